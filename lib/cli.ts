#!/usr/bin/env node
/**
 * `scit`: one binary, a sub-command per kind of user.
 *   scit node …    farmers: run a 3node, sell capacity, run contracts
 *   scit bot …     headless trading and deployment by a 3bot
 *   scit market …  explore (and serve) a market
 *   scit connect … users: a local port that reaches a contract's service
 *   scit demo      a whole market on a local testnet, in one process
 *   scit dht       the bootstrap of a private DHT (a market with no internet)
 *   scit id        this data directory's identity
 */
import { Command, Help } from 'commander'
import { withCommon, configFrom, output, action, report, CommonFlags } from './command'
import { restrictUmask } from './datadir'
import { AREAS, Area } from './areas'
import { version as VERSION } from '../package.json'

type Register = (p: Command) => void

/*
 * Each command's modules, loaded when it runs (or its help is asked for): loading
 * them all on every start cost ~0.5 s of CPU, `scit --version` included.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const LOAD: Record<Area, () => Register> = {
  node: () => (require('../node/cli') as typeof import('../node/cli')).register,
  bot: () => (require('../bot/cli') as typeof import('../bot/cli')).register,
  market: () => (require('../market/cli') as typeof import('../market/cli')).register,
  connect: () => (require('../connect/cli') as typeof import('../connect/cli')).register,
  demo: () => (require('../examples/demo/cli') as typeof import('../examples/demo/cli')).register,
  dht: () => (require('./dht') as typeof import('./dht')).register
}
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * The `scit` command tree. With `argv`, only the command it runs is built in
 * full; the others are listed (help, "unknown command" suggestions) but not
 * loaded. Without it (tests), all of them are.
 */
export function program(argv?: string[]): Command {
  const p = new Command('scit')
    .description(
      'smart contracts for IT: a peer-to-peer market for compute and storage, deployed by bots from signed contracts'
    )
    .version(VERSION)
    // Commander's errors come back as exceptions for `report` to print as scit's; sub-commands inherit this when created.
    .exitOverride()
    .configureOutput({ outputError: () => {} })

  withCommon(
    p.command('id').description("print (and on first use create) this data directory's identity"),
    { market: false }
  ).action(
    action((flags: CommonFlags) => {
      /* eslint-disable @typescript-eslint/no-require-imports */
      const { loadIdentity } = require('./identity') as typeof import('./identity')
      const { encodeKey } = require('./keys') as typeof import('./keys')
      /* eslint-enable @typescript-eslint/no-require-imports */
      const config = configFrom(flags)
      const kp = loadIdentity(config.data)
      const id = encodeKey(kp.publicKey)
      output(flags, { publicKey: id, data: config.data }, () => id)
    })
  )

  // the command named first (`scit help CMD`: all of them)
  const named = argv?.slice(2).find((a) => !a.startsWith('-'))
  const listed = new WeakSet<Command>()
  for (const area of Object.keys(AREAS) as Area[]) {
    if (argv === undefined || named === area || named === 'help') LOAD[area]()(p)
    else listed.add(p.command(area).description(AREAS[area].summary))
  }
  const help = new Help()
  p.configureHelp({
    subcommandTerm: (cmd) =>
      listed.has(cmd) ? AREAS[cmd.name() as Area].term : help.subcommandTerm(cmd)
  })
  return p
}

/** Run `scit` on argv (runtime, script, args…): the entry of both runtimes (bin/scit-bare.js on Bare). */
export function main(argv: string[] = process.argv): void {
  // Before anything is created: data dirs hold secret keys (lib/datadir).
  restrictUmask()
  const p = program(argv)
  // Exit at once: whatever failed may have left a swarm or a store open that would keep the process alive.
  // Bare drops what is still queued on stderr at exit, so the error line is flushed first.
  const fatal = (err: unknown): void => {
    const code = report(err, p, argv)
    process.exitCode = code
    process.stderr.write('', () => process.exit(code))
    setTimeout(() => process.exit(code), 1000).unref()
  }
  // the reader of our output went away (`scit … --help | head`): stop quietly, as a shell's SIGPIPE would
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit()
    else fatal(err)
  })
  process.on('uncaughtException', fatal)
  process.on('unhandledRejection', fatal)
  p.parseAsync(argv).catch(fatal)
}

if (require.main === module) main()
