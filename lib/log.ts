/** One logger for every part, on stderr so stdout stays clean for tables and `--json`. */
export type Level = 'error' | 'warn' | 'info' | 'debug'
const ORDER: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 }

let threshold: Level = process.env.SCIT_DEBUG ? 'debug' : 'warn'
let sink: (line: string) => void = (line) => {
  process.stderr.write(line + '\n')
}

export function setLevel(level: Level): void {
  threshold = level
}
export function getLevel(): Level {
  return threshold
}
export function setSink(fn: (line: string) => void): void {
  sink = fn
}

export interface Logger {
  error(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  debug(msg: string, fields?: Record<string, unknown>): void
  child(name: string): Logger
}

export function logger(name: string): Logger {
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[level] > ORDER[threshold]) return
    let line = `${level.padEnd(5)} ${name}: ${msg}`
    if (fields) {
      for (const [k, v] of Object.entries(fields))
        line += ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`
    }
    sink(line)
  }
  return {
    error: (m, f) => emit('error', m, f),
    warn: (m, f) => emit('warn', m, f),
    info: (m, f) => emit('info', m, f),
    debug: (m, f) => emit('debug', m, f),
    child: (sub) => logger(`${name}/${sub}`)
  }
}
