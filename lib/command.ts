/** What every `scit` sub-command shares: common flags, output, and `error CODE: message` instead of a stack. */
import fs from 'fs'
import path from 'path'
import { Command, CommanderError } from 'commander'
import { resolveConfig, Config, ConfigFlags, DEFAULT_DATA } from './config'
import { ScitError, moveAside, storeDamage } from './errors'
import { setLevel, getLevel } from './log'
import { ioOf, processIo, Io } from './io'

export interface CommonFlags extends ConfigFlags {
  json?: boolean
  verbose?: number
  /** Where the command prints (lib/io.ts): set when `scit bot run` serves it. */
  io?: Io
}

export function withCommon(cmd: Command, opts: { market?: boolean } = {}): Command {
  cmd.option('--data <dir>', 'data directory (env SCIT_DATA; default ~/.scit)')
  cmd.option(
    '--bootstrap <host:port,...>',
    'DHT bootstrap nodes (env SCIT_BOOTSTRAP; default: the public HyperDHT)'
  )
  if (opts.market !== false) {
    cmd.option('--market <key>', 'market key (env SCIT_MARKET, or "market" in <data>/config.json)')
    cmd.option(
      '--join-timeout <duration>',
      'how long a command waits for a peer of its market before TIMEOUT (env SCIT_JOIN_TIMEOUT; default 30s; node start and bot run wait as long as it takes)'
    )
  }
  cmd.option('--json', 'print machine-readable JSON on stdout')
  cmd.option(
    '-v, --verbose',
    'log more to stderr (twice for debug)',
    (_: string, prev: number) => prev + 1,
    0
  )
  return cmd
}

export function configFrom(flags: CommonFlags): Config {
  const io = ioOf(flags)
  // a served command's -v is its client's, not the serving process's log level
  if (flags.verbose && !io.served) setLevel(flags.verbose > 1 ? 'debug' : 'info')
  return resolveConfig(flags, io.env, io.cwd)
}

export function output(flags: CommonFlags, value: unknown, human: () => string): void {
  ioOf(flags).out((flags.json ? JSON.stringify(value, null, 2) : human()) + '\n')
}

/** A flag's whole number (a count, ms, a price): anything else is INVALID_ARGUMENT naming it. */
export function whole(text: string, what: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
    throw new ScitError(
      'INVALID_ARGUMENT',
      `${what} must be a whole number below 2^53, got "${text}"`
    )
  return Number(text)
}

/** Known errors print `error CODE: message` and exit 1; anything else is a bug and goes on to `report`. */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void> | void
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const cmd = args[args.length - 1]
    const flags: CommonFlags = cmd instanceof Command ? cmd.opts() : {}
    try {
      await fn(...args)
    } catch (err) {
      const known = explain(err, dataOf(flags))
      if (known === null) throw err
      const io = ioOf(flags)
      io.err(`error ${known.code}: ${known.message}\n`)
      io.exit(1)
    }
  }
}

function dataOf(flags: CommonFlags): string {
  const io = ioOf(flags)
  return path.resolve(io.cwd, flags.data ?? io.env.SCIT_DATA ?? DEFAULT_DATA)
}

/** Library errors under a data dir (Corestore's fd-lock, device-file, RocksDB's checksums) in scit's terms with the fix; null otherwise. */
export function explain(err: unknown, data: string): ScitError | null {
  if (err instanceof ScitError) return err
  const e = err as { message?: unknown; code?: unknown }
  if (e?.message === 'File descriptor could not be locked') {
    const pid = holder(data)
    return new ScitError(
      'BUSY',
      `another scit process uses this data dir ${data}${pid === null ? '' : ` (pid ${pid})`}: stop it first, or give this one its own --data`
    )
  }
  // RocksDB's checksums found a damaged file (a MANIFEST, a table): refuse it, never read on from it. A table's
  // damage is found later, by a compaction, which stops every write: its cause is then only in RocksDB's LOG.
  const damage =
    storeDamage(err)?.message ??
    (e?.message === 'Batch was not applied' ? corruptionLogged(data) : null)
  if (damage !== null) {
    const said = damage.replace(/\s+/g, ' ').trim()
    const store = /(\/\S+)\/db\/[^/\s]+/.exec(said)?.[1] ?? 'its store'
    return new ScitError(
      'CORRUPT',
      `a store in this data dir ${data} is damaged on disk (${said}): scit will not run on it. ${moveAside(store)}`
    )
  }
  if (e?.code === 'DEVICE_FILE') {
    return new ScitError(
      'INVALID_CONFIG',
      `this data dir ${data} was copied or moved from elsewhere (${String(e.message)}): its stores open only where they were made, or two copies could fork their cores. Use the original dir; or start a fresh --data and copy only identity.json (and config.json) into it, the rest replicates anew`
    )
  }
  return null
}

/** The last corruption RocksDB logged in a store of `data` (<data>/<store>/db/LOG), or null. */
function corruptionLogged(data: string): string | null {
  let entries: string[]
  try {
    entries = fs.readdirSync(data)
  } catch {
    return null
  }
  for (const name of entries) {
    let log: string
    try {
      log = fs.readFileSync(path.join(data, name, 'db', 'LOG'), 'utf8')
    } catch {
      continue
    }
    const found = log.match(/Corruption: [^\n]*/g)
    if (found !== null) return found[found.length - 1]
  }
  return null
}

/** A process (other than this one) with a file open under `dir`: who holds its lock. */
export function holder(dir: string): number | null {
  let pids: string[]
  try {
    pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)
  } catch {
    return null
  }
  for (const pid of pids) {
    let fds: string[]
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(dir + path.sep)) return Number(pid)
      } catch {
        // the fd closed meanwhile
      }
    }
  }
  return null
}

/** The last word on a failure: `error CODE: message`, a stack only with -vv or SCIT_DEBUG=1. Returns the exit code. */
export function report(err: unknown, program: Command, argv: string[], io = processIo): number {
  if (err instanceof CommanderError) {
    if (err.exitCode === 0) return 0 // --help, --version
    const cmd = commandPath(program, argv)
    const text =
      err.code === 'commander.help'
        ? `${cmd} needs a sub-command (listed above)`
        : `${err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')}; see ${cmd} --help`
    io.err(`error INVALID_ARGUMENT: ${text}\n`)
    return 1
  }
  const known = explain(err, dataOf({ io }))
  if (known !== null) {
    io.err(`error ${known.code}: ${known.message}\n`)
    return 1
  }
  const e = err as Error
  io.err(
    `error INTERNAL: ${e?.message ?? String(err)} (a bug in scit: please report it; -vv or SCIT_DEBUG=1 shows where)\n`
  )
  if (getLevel() === 'debug' && e?.stack) io.err(`${e.stack}\n`)
  return 1
}

/** `scit node start`: the sub-commands named in argv, as far as they exist. */
function commandPath(program: Command, argv: string[]): string {
  const names = [program.name()]
  let cmd = program
  for (const arg of argv.slice(2)) {
    if (arg.startsWith('-')) continue
    const sub = cmd.commands.find((c) => c.name() === arg || c.aliases().includes(arg))
    if (sub === undefined) break
    names.push(sub.name())
    cmd = sub
  }
  return names.join(' ')
}

export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const done = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', done)
      process.off('SIGTERM', done)
      resolve(sig)
    }
    process.on('SIGINT', done)
    process.on('SIGTERM', done)
  })
}
