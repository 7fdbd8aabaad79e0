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
import { Command } from 'commander'
import { withCommon, configFrom, output, action, report, CommonFlags } from './command'
import { loadIdentity } from './identity'
import { encodeKey } from './keys'
import { restrictUmask } from './datadir'
import { register as registerNode } from '../node/cli'
import { register as registerBot } from '../bot/cli'
import { register as registerMarket } from '../market/cli'
import { register as registerDemo } from '../examples/demo/cli'
import { register as registerConnect } from '../connect/cli'
import { register as registerDht } from './dht'
import { version as VERSION } from '../package.json'

export function program(): Command {
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
      const config = configFrom(flags)
      const kp = loadIdentity(config.data)
      const id = encodeKey(kp.publicKey)
      output(flags, { publicKey: id, data: config.data }, () => id)
    })
  )

  registerNode(p)
  registerBot(p)
  registerMarket(p)
  registerConnect(p)
  registerDemo(p)
  registerDht(p)
  return p
}

/** Run `scit` on argv (runtime, script, args…): the entry of both runtimes (bin/scit-bare.js on Bare). */
export function main(argv: string[] = process.argv): void {
  // Before anything is created: data dirs hold secret keys (lib/datadir).
  restrictUmask()
  const p = program()
  // Exit at once: whatever failed may have left a swarm or a store open that would keep the process alive.
  // Bare drops what is still queued on stderr at exit, so the error line is flushed first.
  const fatal = (err: unknown): void => {
    const code = report(err, p, argv)
    process.exitCode = code
    process.stderr.write('', () => process.exit(code))
    setTimeout(() => process.exit(code), 1000).unref()
  }
  process.on('uncaughtException', fatal)
  process.on('unhandledRejection', fatal)
  p.parseAsync(argv).catch(fatal)
}

if (require.main === module) main()
