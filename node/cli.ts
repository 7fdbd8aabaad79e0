/** `scit node …`: what a farmer runs; the actions are in cli-actions.ts, loaded when one runs. */
import { Command } from 'commander'
import { AREAS } from '../lib/areas'
import { withCommon, action, CommonFlags } from '../lib/command'
import { DEFAULT_CLAIM_INTERVAL } from './payout'
import { DEFAULT_PRICES } from './offer'
import type { StartFlags } from './cli-actions'

/* eslint-disable @typescript-eslint/no-require-imports */
const actions = (): typeof import('./cli-actions') => require('./cli-actions')
/* eslint-enable @typescript-eslint/no-require-imports */

export function register(program: Command): void {
  const node = program.command('node').description(AREAS.node.summary)
  start(node)
  status(node)
}

function start(node: Command): void {
  withCommon(
    node
      .command('start')
      .description(
        'run the node daemon in the foreground (logs on stderr; SIGINT/SIGTERM withdraw its offer and stop it cleanly)'
      )
  )
    .option(
      '--cpu <cores>',
      'cores to sell: 2, 0.5 or 500m (default and maximum: all cores minus a reserve of 10%, at least 250m)'
    )
    .option(
      '--memory <size>',
      'memory to sell, e.g. 8GiB (default and maximum: all memory minus 512MiB)'
    )
    .option(
      '--ssd <size>',
      "disk to sell as ssd, e.g. 100GiB (default: the data dir's free disk minus 5%, as ssd unless it spins; --attr ssd or hdd says which it is)"
    )
    .option(
      '--hdd <size>',
      "disk to sell as hdd (shares the data dir's disk with --ssd; default 0 unless it spins)"
    )
    .option('--gpu <n>', 'GPUs to sell (none are detected: 0)')
    .option('--ipv4 <n>', 'public IPv4 addresses to sell (none are detected: 0)')
    .option('--country <CC>', 'ISO 3166 country code of this machine', 'CH')
    .option('--city <name>', 'city of this machine', '')
    .option('--attr <a,b>', 'attributes bots may require, comma separated (e.g. ssd,certified)')
    .option(
      '--price-cpu <n>',
      "price per core-hour, in the market's smallest unit",
      String(DEFAULT_PRICES.cpu)
    )
    .option('--price-memory <n>', 'price per GiB-hour of memory', String(DEFAULT_PRICES.memory))
    .option('--price-ssd <n>', 'price per GiB-hour of ssd', String(DEFAULT_PRICES.ssd))
    .option('--price-hdd <n>', 'price per GiB-hour of hdd', String(DEFAULT_PRICES.hdd))
    .option('--price-ipv4 <n>', 'price per address-hour', String(DEFAULT_PRICES.ipv4))
    .option('--price-gpu <n>', 'price per GPU-hour', String(DEFAULT_PRICES.gpu))
    .option('--min-lease <ms>', 'shortest lease sold, in ms', '60000')
    .option('--max-lease <ms>', 'longest lease sold, in ms', String(365 * 24 * 3_600_000))
    .option(
      '--claim-interval <ms>',
      'claim the pay of running leases every … ms (0: never; leases that run their term are paid in full anyway)',
      String(DEFAULT_CLAIM_INTERVAL)
    )
    .option(
      '--op-timeout <duration>',
      'how long the node waits for an op (its offer at start) to be decided before it goes on, sending it again',
      '30s'
    )
    .option(
      '--workloads <dir>',
      'where work dirs live (default <data>/workloads; the sandbox user must be able to traverse it)'
    )
    .option('--unsafe-no-sandbox', 'DEVELOPMENT ONLY: run workloads without bubblewrap isolation')
    .action(action((flags: StartFlags) => actions().cmdStart(flags)))
}

function status(node: Command): void {
  withCommon(
    node
      .command('status')
      .description('local, read-only view of this node: identity, capacity, leases and workloads'),
    { market: false }
  )
    .addHelpText(
      'after',
      "\nleases: trade, bot, resources, price per hour (the market's smallest unit), lease end; --json adds start and the contract core"
    )
    .action(action((flags: CommonFlags) => actions().cmdStatus(flags)))
}
