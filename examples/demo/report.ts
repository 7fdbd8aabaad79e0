/**
 * What the demo prints: one line per event with its time and, dimmed, why it matters.
 * scit loggers are routed here and kept, so nothing else reaches the terminal.
 */
import { setLevel, setSink, getLevel, Level } from '../../lib/log'

export interface ReporterOptions {
  /** stdout; stderr when --json takes stdout. */
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }
  /** 1 (-v): show the scit logs as they come, 2 (-vv): debug too; 0: keep the last ones for a failure report. */
  verbose?: number
  /** Default: when `out` is a terminal and NO_COLOR is unset. */
  live?: boolean
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
const KEEP_LOG_LINES = 200

export class Reporter {
  private readonly out: ReporterOptions['out']
  private readonly live: boolean
  private readonly verbose: boolean
  private readonly debug: boolean
  private waiting: string | null = null
  private waitingSince = Date.now()
  private mark = Date.now()
  private frame = 0
  private timer: NodeJS.Timeout | null = null
  private drawn = false
  private readonly logs: string[] = []
  private prevLevel: Level | null = null
  readonly started = Date.now()

  constructor(opts: ReporterOptions) {
    this.out = opts.out
    this.verbose = (opts.verbose ?? 0) > 0
    this.debug = (opts.verbose ?? 0) > 1
    this.live = opts.live ?? (opts.out.isTTY === true && !process.env.NO_COLOR)
  }

  /** Shown at once with -v (info and up), otherwise kept for a failure report. */
  captureLogs(): void {
    this.prevLevel = getLevel()
    if (this.verbose) setLevel(this.debug || getLevel() === 'debug' ? 'debug' : 'info')
    setSink((line) => this.log(line))
  }

  release(): void {
    this.clear()
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.waiting = null
    if (this.prevLevel !== null) setLevel(this.prevLevel)
    setSink((line) => {
      process.stderr.write(line + '\n')
    })
  }

  log(line: string): void {
    if (this.verbose) return this.print(this.dim(line))
    this.logs.push(line)
    if (this.logs.length > KEEP_LOG_LINES) this.logs.shift()
  }

  /** For a failure report, when not verbose. */
  recentLogs(n = 20): string[] {
    return this.logs.slice(-n)
  }

  heading(text: string): void {
    this.print(this.bold(text))
  }

  section(n: number, title: string): void {
    this.print('')
    this.print(this.bold(`${n}. ${title}`))
    this.mark = Date.now()
  }

  /** A spinner with the seconds so far, on a terminal. */
  wait(text: string): void {
    if (this.waiting !== text) this.waitingSince = Date.now()
    this.waiting = text
    if (!this.live) return
    if (this.timer === null) {
      this.timer = setInterval(() => {
        this.frame++
        this.draw()
      }, 100)
      this.timer.unref()
    }
    this.draw()
  }

  /** ✓ the line, the time since the previous one, and why it matters. */
  ok(text: string, why?: string): void {
    const secs = ((Date.now() - this.mark) / 1000).toFixed(1) + 's'
    this.mark = Date.now()
    this.waiting = null
    this.print(this.pad(`  ${this.green('✓')} ${text}`, secs))
    if (why) this.print(this.dim(`    ${why}`))
  }

  why(text: string): void {
    this.print(this.dim(`    ${text}`))
  }

  warn(lines: string[]): void {
    const width = Math.max(...lines.map((l) => l.length)) + 4
    const bar = '!'.repeat(width)
    this.print(this.yellow(bar))
    for (const l of lines) this.print(this.yellow(`! ${l.padEnd(width - 4)} !`))
    this.print(this.yellow(bar))
  }

  fail(text: string): void {
    this.waiting = null
    this.print(`  ${this.red('✗')} ${text}`)
  }

  block(text: string): void {
    this.print(text)
  }

  private print(line: string): void {
    this.clear()
    this.out.write(line + '\n')
    this.draw()
  }

  private draw(): void {
    if (!this.live || this.waiting === null) return
    const secs = Math.floor((Date.now() - this.waitingSince) / 1000)
    const text = `  ${FRAMES[this.frame % FRAMES.length]} ${this.waiting}${secs > 0 ? ` (${secs}s)` : ''}`
    const width = (this.out.columns ?? 80) - 1
    this.out.write('\r\x1b[2K' + (text.length > width ? text.slice(0, width - 1) + '…' : text))
    this.drawn = true
  }

  private clear(): void {
    if (!this.drawn) return
    this.out.write('\r\x1b[2K')
    this.drawn = false
  }

  private pad(line: string, right: string): string {
    const width = Math.min(this.out.columns ?? 100, 100)
    const visible = line.replace(/\x1b\[[0-9;]*m/g, '').length // eslint-disable-line no-control-regex -- ANSI colours take no columns
    return visible + right.length + 2 <= width
      ? line + ' '.repeat(width - visible - right.length) + right
      : `${line}  ${right}`
  }

  private paint(code: string, s: string): string {
    return this.live ? `\x1b[${code}m${s}\x1b[0m` : s
  }
  private bold(s: string): string {
    return this.paint('1', s)
  }
  private dim(s: string): string {
    return this.paint('2', s)
  }
  private green(s: string): string {
    return this.paint('32', s)
  }
  private red(s: string): string {
    return this.paint('31', s)
  }
  private yellow(s: string): string {
    return this.paint('33', s)
  }
}
