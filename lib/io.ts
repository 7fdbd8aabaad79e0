/**
 * Where a command prints and what stops it. A command run from a shell has
 * this process's stdout, stderr, environment, working dir and signals
 * (`processIo`); one that `scit bot run` serves for another `scit bot …`
 * (bot/control.ts) has that client's, carried over the control socket. A
 * command reaches its Io through its flags (`ioOf`), so the same code prints
 * the same lines and exits with the same code either way.
 */
import path from 'path'

export interface Io {
  out(text: string): void
  err(text: string): void
  /** The command's exit code (1 after an error line); the last one set wins. */
  exit(code: number): void
  /** SIGINT/SIGTERM here; for a served command, its client's Ctrl-C or hang-up. Read it only to act on it. */
  readonly signal: AbortSignal
  readonly env: NodeJS.ProcessEnv
  readonly cwd: string
  /** Served by a running `scit bot run` (bot/control.ts), not a process of its own. */
  readonly served: boolean
}

let signals: AbortController | null = null

/** This process's. Its signal listens to SIGINT/SIGTERM from the first time it is read, as `untilSignal` does. */
export const processIo: Io = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  exit: (code) => {
    process.exitCode = code
  },
  get signal(): AbortSignal {
    if (signals === null) {
      const ac = new AbortController()
      signals = ac
      const done = (): void => {
        process.off('SIGINT', done)
        process.off('SIGTERM', done)
        signals = null // what reads it next (a test's next command in this process) waits for the next signal
        ac.abort()
      }
      process.on('SIGINT', done)
      process.on('SIGTERM', done)
    }
    return signals.signal
  },
  get env(): NodeJS.ProcessEnv {
    return process.env
  },
  get cwd(): string {
    return process.cwd()
  },
  served: false
}

/** The Io a command's flags carry (set by bot/control.ts for a served one), else this process's. */
export function ioOf(flags: { io?: Io } | undefined): Io {
  return flags?.io ?? processIo
}

/** A path as the user typed it, resolved where they typed it. */
export function resolvePath(io: Io, p: string): string {
  return path.resolve(io.cwd, p)
}

/** Resolves once `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    signal.addEventListener('abort', () => resolve(), { once: true })
  })
}

/** Aborts when any of `signals` does (AbortSignal.any, which Bare lacks). */
export function anySignal(...signals: AbortSignal[]): AbortSignal {
  const ac = new AbortController()
  const abort = (): void => {
    for (const s of signals) s.removeEventListener('abort', abort)
    ac.abort()
  }
  for (const s of signals) {
    if (s.aborted) abort()
    else s.addEventListener('abort', abort, { once: true })
  }
  return ac.signal
}
