/** `scit bot run` as its own process, and `scit …` commands beside it, as a user runs them. */
import { spawn, execFile, ChildProcess } from 'child_process'
import type { Assert } from 'brittle'
import { scitArgv, type Run } from './runtime'
import { endChild, tieToRunner } from './child'

export interface Daemon {
  child: ChildProcess
  /** Its event lines so far (stdout). */
  events: () => string
  stderr: () => string
  /** Resolves once a line matching `re` was printed; rejects if bot run exits, or after `ms`. */
  waitFor: (re: RegExp, ms?: number) => Promise<string>
  /** SIGINT, as Ctrl-C; resolves with its exit code. */
  stop: () => Promise<number | null>
}

/** Spawn `scit bot run ARGS`; resolves once it serves its data dir. */
export async function botRun(t: Assert, args: string[]): Promise<Daemon> {
  const [file, ...pre] = scitArgv()
  const child = spawn(
    '/usr/bin/setpriv',
    ['--pdeathsig', 'KILL', '--', file, ...pre, 'bot', 'run', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] }
  )
  let out = ''
  let err = ''
  const waiters = new Set<() => void>()
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
    for (const w of [...waiters]) w()
  })
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
    if (process.env.SCIT_TEST_ECHO) process.stderr.write(d)
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  const waitFor = (re: RegExp, ms = 120_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`bot run printed no line matching ${String(re)} within ${ms} ms:\n${out}`))
      }, ms)
      const check = (): void => {
        const m = out.split('\n').find((l) => re.test(l))
        if (m === undefined) return
        waiters.delete(check)
        clearTimeout(timer)
        resolve(m)
      }
      waiters.add(check)
      exited.then(() => {
        clearTimeout(timer)
        reject(new Error(`bot run exited: ${err}`))
      }, reject)
      check()
    })
  const stop = async (): Promise<number | null> => (await endChild(child, 'SIGINT')).code
  t.teardown(stop, { order: -5 })
  await waitFor(/ run +bot /)
  return { child, events: () => out, stderr: () => err, waitFor, stop }
}

export interface TimedRun extends Run {
  ms: number
}

/**
 * `scit ARGS` to its end, killed after `limit` ms: a command that hangs
 * shows as code null and "killed" rather than stalling the suite.
 */
export function scitProcess(args: string[], limit = 90_000): Promise<TimedRun> {
  const [file, ...pre] = scitArgv()
  const started = Date.now()
  return new Promise((resolve) => {
    const child = execFile(file, [...pre, ...args], { timeout: limit }, (err, stdout, stderr) => {
      const e = err as { code?: number; killed?: boolean } | null
      const code = e === null ? 0 : e.killed === true ? -1 : Number(e.code ?? 1)
      resolve({ code, stdout, stderr, ms: Date.now() - started })
    })
    tieToRunner(child)
  })
}
