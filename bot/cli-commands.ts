/** The command tree of `scit bot` beyond templates: flags and help; the actions are in cli-run.ts. */
import type { Command } from 'commander'
import { withCommon } from '../lib/command'
import type { Io } from '../lib/io'
import type { ParamValue } from '../lib/contract'
import type { RunFlags } from './cli-run'
import { botAction as action } from './control'

/*
 * The actions' modules load when one runs in this process: a command that
 * `scit bot run` serves only forwards its argv (control.ts), and `--help` loads none.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const run = (): typeof import('./cli-run') => require('./cli-run')
const sign = (): typeof import('./cli-sign') => require('./cli-sign')
const daemon = (): typeof import('./cli-daemon') => require('./cli-daemon')
const stateCmd = (): typeof import('./cli-state') => require('./cli-state')
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * `collect` and `sets` are cli.ts's, so --set means one thing across `scit bot`; `program`
 * makes the command tree `scit bot run` runs the commands it serves in. Every action goes
 * through a running `scit bot run` of its data dir when there is one (control.ts botAction).
 */
export function register(
  bot: Command,
  collect: (v: string, prev?: string[]) => string[],
  sets: (list?: string[]) => Record<string, ParamValue>,
  program: (io: Io) => Command
): void {
  deployCommands(bot, collect, sets)
  readCommands(bot)
  changeCommands(bot, collect, sets)
  runCommand(bot, program)
}

/** What makes a contract: deploy, sign, approvals. */
function deployCommands(
  bot: Command,
  collect: (v: string, prev?: string[]) => string[],
  sets: (list?: string[]) => Record<string, ParamValue>
): void {
  withCommon(
    bot
      .command('deploy')
      .argument('<template>', 'a template file, or NAME[@VERSION] published on the market')
  )
    .description(
      'instantiate a template, buy capacity, settle, write the signed contract core; one progress line per step on stderr'
    )
    .option('--set <name=value>', 'a parameter value (repeatable)', collect, [])
    .option('--id <name>', "the bot's name for the contract (default: <template>-<random>)")
    .option(
      '--dry-run',
      "print what would be bought (an archive's groups, nodes, overhead and price a month) and buy nothing"
    )
    .option('--wait <state>', '"running": return once every replica runs')
    .option(
      '--no-approvals',
      'do not wait for stakeholder signatures here (scit bot run collects them)'
    )
    .option(
      '--timeout <duration>',
      'give up buying capacity after this long (TIMEOUT, with why no offer fits), and with --wait running waiting for the replicas as long again',
      '5m'
    )
    .addHelpText(
      'after',
      '\nExamples:\n  scit bot deploy examples/crm.yaml --set users=100 --set country=CH --wait running\n  scit bot deploy crm@1 --json'
    )
    .action(
      action((template: string, flags: RunFlags) =>
        run().cmdDeploy(template, flags, sets(flags.set))
      )
    )

  withCommon(
    bot.command('sign').argument('<contract>', 'the contract core key (or a local contract id)'),
    { market: false }
  )
    .description(
      'as a stakeholder (this --data identity): fetch the contract from its bot, review the manifest, sign its hash and send the signature'
    )
    .option('--yes', 'sign without asking')
    .option('--role <role>', 'the role to sign in (default: the one the policy gives this key)')
    .action(action((ref: string, flags: RunFlags) => sign().cmdSign(ref, flags)))

  withCommon(
    bot
      .command('approvals')
      .argument('<contract>', 'the contract core key (or a local contract id)'),
    { market: false }
  )
    .description(
      'who signed the manifest in force and the weight reached (read from the contract core, verified)'
    )
    .action(action((ref: string, flags: RunFlags) => sign().cmdApprovals(ref, flags)))
}

/** What reads a contract: status, state, logs, result. */
function readCommands(bot: Command): void {
  withCommon(
    bot.command('status').argument('[contract]', 'one contract (id, core key or a prefix)')
  )
    .description("this bot's contracts, their leases and what each node says about its replica")
    .action(action((ref: string | undefined, flags: RunFlags) => run().cmdStatus(ref, flags)))

  withCommon(bot.command('state').argument('<contract>', 'contract id or core key'))
    .description(
      "the latest snapshot of each replica's declared state the bot verified: sequence, age, size"
    )
    .action(action((ref: string, flags: RunFlags) => stateCmd().cmdState(ref, flags)))

  withCommon(bot.command('logs').argument('<contract>', 'contract id or core key'))
    .description('the workload output, from the log cores the nodes sign')
    .option('--follow', 'keep printing as the nodes append')
    .option('--tail <blocks>', 'log blocks to read back per node', '200')
    .action(action((ref: string, flags: RunFlags) => run().cmdLogs(ref, flags)))

  withCommon(bot.command('result').argument('<contract>', 'contract id or core key'))
    .description(
      "fetch a job's declared output from its node (during the lease and for the template's retain after it), verified: the node's signature, the bytes' hash, the digest the node signed at exit"
    )
    .option('--out <dir>', 'where to write it (several replicas: a folder each)', '.')
    .option('--timeout <duration>', 'how long to wait for the node', '30s')
    .addHelpText('after', '\nExample:\n  scit bot result ai-mining-x1 --out ./results')
    .action(action((ref: string, flags: RunFlags) => run().cmdResult(ref, flags)))
}

/** What changes a contract: stop, scale, grant and revoke, update. */
function changeCommands(
  bot: Command,
  collect: (v: string, prev?: string[]) => string[],
  sets: (list?: string[]) => Record<string, ParamValue>
): void {
  withCommon(bot.command('stop').argument('<contract>', 'contract id or core key'))
    .description(
      'sign a stop instruction, close every lease (the unused escrow is refunded, the nodes free the capacity)'
    )
    .action(action((ref: string, flags: RunFlags) => run().cmdStop(ref, flags)))

  withCommon(
    bot
      .command('scale')
      .argument('<contract>', 'contract id or core key')
      .argument('<replicas>', 'the new replica count')
  )
    .description('buy more replicas or close the extra ones, and sign a scale instruction')
    .option('--workload <name>', 'which workload (default: the first)')
    .option(
      '--timeout <duration>',
      'give up buying the new replicas after this long (TIMEOUT, with why no offer fits); the contract runs on as it was',
      '5m'
    )
    .action(action((ref: string, n: string, flags: RunFlags) => run().cmdScale(ref, n, flags)))

  for (const revoke of [false, true]) {
    withCommon(
      bot
        .command(revoke ? 'revoke' : 'grant')
        .argument('<contract>', 'contract id or core key')
        .argument(
          '<key>',
          revoke ? 'the key that may no longer connect' : 'the key that may connect (its scit id)'
        )
    )
      .description(
        revoke
          ? "sign a revoke instruction: the nodes' DHT firewalls refuse this key again (a key the template lists by role is refused too)"
          : 'sign a grant instruction: the nodes running the contract let this key connect to its services (scit connect)'
      )
      .option('--workload <name>', 'only this service (default: every service of the contract)')
      .action(
        action((ref: string, key: string, flags: RunFlags) =>
          run().cmdGrant(ref, key, flags, revoke)
        )
      )
  }

  withCommon(bot.command('update').argument('<contract>', 'contract id or core key'))
    .description(
      'a new manifest version with new parameter values (same resources); stakeholders sign it again when the policy requires'
    )
    .option('--set <name=value>', 'a parameter value (repeatable)', collect, [])
    .option('--no-approvals', 'do not wait for the stakeholders here')
    .action(action((ref: string, flags: RunFlags) => run().cmdUpdate(ref, flags, sets(flags.set))))
}

function runCommand(bot: Command, program: (io: Io) => Command): void {
  withCommon(bot.command('run'))
    .description(
      'keep the bot running headless: resume unfinished deployments, collect signatures, ping nodes, replace dead ones, renew leases'
    )
    .option(
      '--grace <duration>',
      'how long a node may be unreachable before its lease is failed and re-bought',
      '60s'
    )
    .option('--interval <duration>', 'how often nodes are pinged', '5s')
    .option(
      '--start-within <duration>',
      'how much longer than the grace a node that answers may go without running its lease, nor getting further starting it, before it is failed and re-bought (default: the grace)'
    )
    .option(
      '--renew-before <duration>',
      'buy the next lease this long before the current one ends, while the balance covers it (0: never)',
      '1h'
    )
    .action(action((flags: RunFlags) => daemon().cmdRun(flags, program)))
}
