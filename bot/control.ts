/**
 * The control channel of `scit bot run`: the process that owns a bot's data
 * dir serves every other `scit bot …` command of that dir, so they work beside
 * it. An owner-only UNIX socket in the data dir (socketPath); one
 * request per connection, newline-delimited JSON:
 *
 *   client → { argv, cwd, env }     the command line as typed (after `scit`), where, and its SCIT_* variables
 *   client → { cancel: true }       Ctrl-C: the command stops as it would on a signal
 *   server → { out } | { err }      what the command prints on stdout / stderr
 *   server → { exit }               its exit code; then the server ends the connection
 *
 * The server parses the argv with the same command tree and runs the same
 * action, with the client's Io (lib/io.ts) and the bot it holds open: so the
 * output and exit code are those the command has without a daemon. Generic:
 * any `scit bot` command goes through, but for those that must run here
 * (`run`, `sign` as a stakeholder, `template`).
 */
import fs from 'fs'
import net from 'net'
import os from 'os'
import path from 'path'
import type { Command } from 'commander'
import b4a from 'b4a'
import { action, report } from '../lib/command'
import { hash } from '../lib/keys'
import { ioOf, Io } from '../lib/io'
import { DEFAULT_DATA } from '../lib/config'
import { ScitError } from '../lib/errors'
import type { Bot } from './bot'
import safetyCatch from 'safety-catch'

/** Commands that never go through a running bot: itself, a stakeholder's signature (its own identity), templates (no bot). */
const LOCAL = new Set(['run', 'sign', 'template'])
/** How long a closing server lets its requests end after their bot closed. */
const DRAIN = 10_000
/** Longest frame read (characters). */
const MAX_LINE = 16 * 1024 * 1024
/** sun_path is 108 bytes on Linux, 104 on macOS. */
const MAX_SOCKET_PATH = 100

interface Request {
  argv: string[]
  cwd: string
  env: Record<string, string>
}
interface Frame {
  out?: string
  err?: string
  exit?: number
  cancel?: boolean
}

/** `<data>/bot/control.sock`; a data dir too deep for that gets one in an owner-only dir under the tmp dir. */
export function socketPath(data: string): string {
  const inside = path.join(data, 'bot', 'control.sock')
  if (Buffer.byteLength(inside) <= MAX_SOCKET_PATH) return inside
  const id = b4a.toString(hash('scit/control', b4a.from(path.resolve(data))), 'hex').slice(0, 16)
  return path.join(os.tmpdir(), `scit-${process.getuid?.() ?? 'user'}`, `${id}.sock`)
}

const bots = new WeakMap<Io, Bot>()

/** The bot `scit bot run` serves this command from, or null when it runs in a process of its own. */
export function servedBot(flags: { io?: Io }): Bot | null {
  return flags.io === undefined ? null : (bots.get(flags.io) ?? null)
}

function lines(sock: net.Socket, onframe: (f: Frame) => void): void {
  // the pieces of the line so far: a long one is neither rescanned nor copied per piece
  let parts: string[] = []
  let size = 0
  sock.setEncoding('utf8')
  sock.on('data', (d: string) => {
    let i
    while ((i = d.indexOf('\n')) >= 0) {
      parts.push(d.slice(0, i))
      const line = parts.join('')
      parts = []
      size = 0
      d = d.slice(i + 1)
      try {
        onframe(JSON.parse(line) as Frame)
      } catch {
        return sock.destroy() // not our protocol
      }
    }
    parts.push(d)
    size += d.length
    // a frame is a command line or a piece of its output: a longer line is not our protocol
    if (size > MAX_LINE) sock.destroy()
  })
}

function isRequest(r: Partial<Request> | null): r is Request {
  const strings = (v: unknown): boolean => typeof v === 'string'
  return (
    Array.isArray(r?.argv) &&
    r.argv.every(strings) &&
    typeof r.cwd === 'string' &&
    typeof r.env === 'object' &&
    r.env !== null &&
    Object.values(r.env).every(strings)
  )
}

function send(sock: net.Socket, f: Frame | Request): void {
  if (!sock.destroyed) sock.write(JSON.stringify(f) + '\n')
}

/**
 * `action` for a `scit bot` command: when a `scit bot run` serves its data
 * dir, the command runs there (bot/control.ts) and this process relays it.
 */
export function botAction<A extends unknown[]>(
  fn: (...args: A) => Promise<void>
): (...args: A) => Promise<void> {
  return action(async (...args: A) => {
    const cmd = args[args.length - 1] as Command
    if (!(await forward(cmd))) await fn(...args)
  })
}

/** Relay `cmd` to the bot run serving its data dir; false when none does (or the command runs here). */
async function forward(cmd: Command): Promise<boolean> {
  const io = ioOf(cmd.opts())
  if (io.served) return false
  const names: string[] = []
  let root: Command = cmd
  for (; root.parent !== null; root = root.parent) names.unshift(root.name())
  if (names[0] !== 'bot' || LOCAL.has(names[1])) return false
  const flag = cmd.opts().data as string | undefined
  const data = path.resolve(io.cwd, flag ?? io.env.SCIT_DATA ?? DEFAULT_DATA)
  const file = socketPath(data)
  if (!fs.existsSync(file)) return false
  const sock = await connect(file)
  if (sock === null) return false // left by a bot run that died: the command opens the bot itself
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(io.env)) if (k.startsWith('SCIT_') && v) env[k] = v
  send(sock, { argv: root.rawArgs.slice(2), cwd: io.cwd, env })
  let exit: number | null = null
  const cancel = (): void => send(sock, { cancel: true })
  io.signal.addEventListener('abort', cancel, { once: true })
  lines(sock, (f) => {
    if (f.out !== undefined) io.out(f.out)
    if (f.err !== undefined) io.err(f.err)
    if (f.exit !== undefined) exit = f.exit
  })
  await new Promise<void>((resolve) => {
    sock.once('close', () => resolve())
    sock.on('error', () => sock.destroy())
  })
  io.signal.removeEventListener('abort', cancel)
  if (exit === null) {
    io.err(`error CLOSED: the scit bot run serving ${data} stopped before the command ended\n`)
    exit = 1
  }
  io.exit(exit)
  return true
}

/** null when nothing listens there (a stale socket). */
function connect(file: string): Promise<net.Socket | null> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(file)
    sock.once('connect', () => {
      sock.removeAllListeners('error')
      resolve(sock)
    })
    sock.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') return resolve(null)
      reject(
        new ScitError(
          'ACCESS',
          `cannot reach the scit bot run serving ${path.dirname(path.dirname(file))} through ${file}: ${err.message}`
        )
      )
    })
  })
}

/** The client's side of one request, as the command sees it. */
class ServedIo implements Io {
  readonly served = true
  private readonly ac = new AbortController()
  private code = 0

  constructor(
    private readonly sock: net.Socket,
    readonly cwd: string,
    readonly env: NodeJS.ProcessEnv
  ) {}

  get signal(): AbortSignal {
    return this.ac.signal
  }
  get exitCode(): number {
    return this.code
  }
  out(text: string): void {
    send(this.sock, { out: text })
  }
  err(text: string): void {
    send(this.sock, { err: text })
  }
  exit(code: number): void {
    this.code = code
  }
  cancel(): void {
    this.ac.abort()
  }
}

export interface ServerOptions {
  /** A fresh `scit` command tree printing to `io` (its errors and help too). */
  program(io: Io): Command
  /** One served command, when it ended (the bot run's -v log). */
  served?(argv: string[], code: number, ms: number): void
}

export class ControlServer {
  readonly file: string
  private server: net.Server | null = null
  private readonly running = new Map<ServedIo, Promise<void>>()

  constructor(
    private readonly bot: Bot,
    private readonly opts: ServerOptions
  ) {
    this.file = socketPath(bot.opts.data)
  }

  /** Listen on the socket; a socket file left there is stale: this process holds the data dir. */
  async listen(): Promise<void> {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 })
    fs.rmSync(this.file, { force: true })
    const server = net.createServer((sock) => this.accept(sock))
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.file, () => {
        server.off('error', reject)
        resolve()
      })
    })
    fs.chmodSync(this.file, 0o600)
  }

  /** Accept no more; what runs is told to stop, as a signal would tell it. */
  stop(): void {
    this.server?.close()
    for (const io of this.running.keys()) io.cancel()
  }

  /** After the bot closed: the commands it served have ended (or DRAIN passed); the socket is gone. */
  async drained(): Promise<void> {
    let timer: NodeJS.Timeout | null = null
    await Promise.race([
      Promise.allSettled(this.running.values()),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN)))
    ])
    if (timer !== null) clearTimeout(timer)
    for (const io of this.running.keys()) io.exit(1)
    fs.rmSync(this.file, { force: true })
  }

  private accept(sock: net.Socket): void {
    sock.on('error', () => sock.destroy())
    let io: ServedIo | null = null
    lines(sock, (f) => {
      if (io !== null) {
        if (f.cancel === true) io.cancel()
        return
      }
      const req = f as Partial<Request> | null
      if (!isRequest(req)) return sock.destroy() // not our protocol
      io = new ServedIo(sock, req.cwd, { ...req.env })
      const served = io
      sock.once('close', () => served.cancel())
      const p = this.run(served, req.argv).finally(() => {
        this.running.delete(served)
        send(sock, { exit: served.exitCode })
        sock.end()
      })
      this.running.set(served, p)
    })
  }

  private async run(io: ServedIo, argv: string[]): Promise<void> {
    const started = Date.now()
    bots.set(io, this.bot)
    const program = this.opts.program(io)
    program.hook('preAction', (_, actionCommand) => {
      actionCommand.setOptionValue('io', io)
    })
    const full = ['node', 'scit', ...argv]
    try {
      await program.parseAsync(full)
    } catch (err) {
      io.exit(report(err, program, full, io))
    }
    try {
      this.opts.served?.(argv, io.exitCode, Date.now() - started)
    } catch (err) {
      safetyCatch(err)
    }
  }
}
