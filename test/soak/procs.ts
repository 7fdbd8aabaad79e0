/**
 * The soak's processes: each `scit …` (or the soak's trader) its own child, its output in <run>/logs/NAME.log
 * (appended across restarts, each line stamped), killed with the soak (--pdeathsig) and by the soak at will:
 * kill -9, SIGSTOP/SIGCONT, SIGTERM, restart with the same argv.
 */
import fs from 'fs'
import path from 'path'
import { spawn, ChildProcess } from 'child_process'
import { EventEmitter } from 'events'

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface ProcSpec {
  name: string
  /** Arguments after the node binary (a script and its arguments). */
  argv: string[]
  env?: Record<string, string>
  /** A line that says the process is up. */
  ready?: RegExp
}

type Watcher = (line: string, stream: 'out' | 'err') => void

export class Proc extends EventEmitter {
  child: ChildProcess | null = null
  /** 'stopped': SIGSTOP. */
  state: 'down' | 'starting' | 'up' | 'stopped' = 'down'
  starts = 0
  stdout = ''
  /** The last lines, to say why it failed. */
  tail: string[] = []
  private readonly log: number
  private readonly watchers = new Set<Watcher>()
  private exit: Promise<Exit> = Promise.resolve({ code: null, signal: null })
  /** The soak stopped it (kill -9, SIGTERM): its exit is no crash. */
  private ending = false
  /** Extra environment for the next start (a skewed clock). */
  nextEnv: Record<string, string> = {}

  constructor(
    readonly spec: ProcSpec,
    logs: string,
    private readonly start0: number
  ) {
    super()
    fs.mkdirSync(logs, { recursive: true })
    this.log = fs.openSync(path.join(logs, spec.name + '.log'), 'a')
  }

  get name(): string {
    return this.spec.name
  }

  get pid(): number | null {
    return this.child?.pid ?? null
  }

  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null
  }

  /** Start it; resolves once its ready line came (or at once without one), rejects if it exits first. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${this.name}: the soak is over`))
    if (this.alive) throw new Error(`${this.name} is already running`)
    this.starts++
    this.stdout = ''
    this.tail = []
    this.state = 'starting'
    this.write(
      `--- start ${this.starts}${Object.keys(this.nextEnv).length ? ' ' + JSON.stringify(this.nextEnv) : ''}`
    )
    const argv = ['--pdeathsig', 'KILL', '--', process.execPath, ...this.spec.argv]
    const child = spawn('/usr/bin/setpriv', argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.spec.env, ...this.nextEnv }
    })
    this.child = child
    this.ending = false
    this.exit = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        const was = this.state
        if (this.child === child) this.state = 'down'
        this.write(`--- exit ${code ?? signal ?? ''}`)
        resolve({ code, signal })
        this.emit('exit', { code, signal })
        // up, and nobody stopped it: it died on its own
        if (!this.ending && this.child === child && (was === 'up' || was === 'stopped'))
          this.emit('crash', { code, signal })
      })
    )
    this.lines(child, 'out')
    this.lines(child, 'err')
    const ready = this.spec.ready
    return new Promise((resolve, reject) => {
      if (ready === undefined) {
        this.state = 'up'
        return resolve()
      }
      const w: Watcher = (line) => {
        if (!ready.test(line)) return
        this.watchers.delete(w)
        if (this.child === child && this.state === 'starting') this.state = 'up'
        resolve()
      }
      this.watchers.add(w)
      void this.exit.then((e) => {
        this.watchers.delete(w)
        reject(
          new Error(
            `${this.name} exited (${e.code ?? e.signal ?? ''}) before it was ready: ${this.tail.slice(-3).join(' | ')}`
          )
        )
      })
    })
  }

  exited(): Promise<Exit> {
    return this.exit
  }

  /** Every line it prints from now on, until the returned function is called. */
  watch(fn: Watcher): () => void {
    this.watchers.add(fn)
    return () => this.watchers.delete(fn)
  }

  async kill9(): Promise<Exit> {
    if (!this.alive) return await this.exit
    this.ending = true
    this.write('--- kill -9')
    this.child?.kill('SIGKILL')
    return await this.exit
  }

  pause(): void {
    if (!this.alive || this.state === 'stopped') return
    this.write('--- SIGSTOP')
    this.child?.kill('SIGSTOP')
    this.state = 'stopped'
  }

  resume(): void {
    if (!this.alive || this.state !== 'stopped') return
    this.write('--- SIGCONT')
    this.child?.kill('SIGCONT')
    this.state = 'up'
  }

  /** SIGTERM (a clean stop), then SIGKILL after `bound` ms. */
  async term(bound = 30_000): Promise<Exit> {
    if (!this.alive) return await this.exit
    this.ending = true
    this.resume()
    this.write('--- SIGTERM')
    this.child?.kill('SIGTERM')
    const timer = setTimeout(() => {
      this.write(`--- no exit ${bound} ms after SIGTERM: SIGKILL`)
      this.child?.kill('SIGKILL')
    }, bound)
    const e = await this.exit
    clearTimeout(timer)
    return e
  }

  /** A note in its log (what the soak did to it). */
  write(line: string): void {
    const t = ((Date.now() - this.start0) / 1000).toFixed(2).padStart(8)
    try {
      fs.writeSync(this.log, `${t} ${line}\n`)
    } catch {}
  }

  /** No start from now on (the soak ends). */
  closed = false

  close(): void {
    try {
      fs.closeSync(this.log)
    } catch {}
  }

  private lines(child: ChildProcess, stream: 'out' | 'err'): void {
    let rest = ''
    const source = stream === 'out' ? child.stdout : child.stderr
    source?.on('data', (d: Buffer) => {
      if (stream === 'out') this.stdout += d.toString()
      rest += d.toString()
      let i: number
      while ((i = rest.indexOf('\n')) !== -1) {
        const line = rest.slice(0, i)
        rest = rest.slice(i + 1)
        this.write(`${stream} ${line}`)
        this.tail.push(line)
        if (this.tail.length > 20) this.tail.shift()
        for (const w of [...this.watchers]) w(line, stream)
      }
    })
  }
}

/** Run a command to its end; never throws on a non-zero exit. */
export async function runToEnd(p: Proc, timeout: number): Promise<Exit & { stdout: string }> {
  await p.start()
  const timer = setTimeout(() => {
    p.write(`--- still running after ${timeout} ms: SIGKILL`)
    p.child?.kill('SIGKILL')
  }, timeout)
  const e = await p.exited()
  clearTimeout(timer)
  return { ...e, stdout: p.stdout }
}
