/** `scit market overview | prices | node KEY`: what the web page shows, as tables or `--json` (the page's API). */
import type { Command } from 'commander'
import { withCommon, configFrom, output, action } from '../../lib/command'
import { openCommandPeer } from '../cli-peer'
import { parseDuration } from '../../lib/duration'
import type { MarketPeer } from '../peer'
import { parseKeyMatch } from './filters'
import { withCheckout, contextOf } from './views'
import { overviewRows, priceRows, parseRange, RANGES } from './trends'
import { nodeDetail } from './node-detail'
import { renderOverview, renderPrices, renderNode } from './trends-render'
import { UNITS } from './help'
import type { ExplorerFlags } from './commands'

async function explore<T>(
  flags: ExplorerFlags,
  read: (peer: MarketPeer) => Promise<T>,
  render: (value: T) => string
): Promise<void> {
  const { peer, close } = await openCommandPeer(configFrom(flags), null)
  try {
    const value = await read(peer)
    output(flags, value, () => render(value))
  } finally {
    await close()
  }
}

export function registerTrends(market: Command): void {
  withCommon(market.command('overview'))
    .summary('the market at a glance, with its change over 24 h')
    .description(
      "nodes offering and online, capacity leased per resource, live contracts, trades and volume in the last 24 h, each with its change over 24 h (from the view's hourly history; what `scit market web` shows first)"
    )
    .option('--timeout <duration>', 'how long one DHT lookup may take', '10s')
    .addHelpText(
      'after',
      `\nExample:\n  scit market overview --json\n\n--json prints {time, nodes {offering, online, lapsed, offers}, capacity {<kind>: {total, leased, share}}, contracts {live, leases}, trades, volume}; a change is {now, before} (before null: the market had not begun)\n${UNITS}`
    )
    .action(
      action((flags: ExplorerFlags) =>
        explore(
          flags,
          (peer) =>
            withCheckout(peer, (view) =>
              overviewRows(
                contextOf(peer, view, { lookupTimeout: parseDuration(flags.timeout ?? '10s') })
              )
            ),
          renderOverview
        )
      )
    )

  withCommon(market.command('prices'))
    .summary('traded unit prices over time (median, min, max) and the book depth')
    .description(
      "per resource kind, the unit prices trades were matched at, per minute (--range 1h, 6h) or per hour (24h, 7d, 30d): the median with the min and max; and the book's depth now: free capacity of the offers for sale at each unit price, and what open bids ask at the most they could pay per unit"
    )
    .option('--range <range>', `how far back: ${Object.keys(RANGES).join(', ')}`, '24h')
    .addHelpText(
      'after',
      `\nExample:\n  scit market prices --range 7d --json | jq '.summary.cpu'\n\n--json prints {range, resolution, from, to, history: [{start, matched, settled, value, prices {<kind>: {trades, min, median, max}}}], summary, depth {<kind>: {offers: [{price, amount}], bids}}}\n${UNITS}`
    )
    .action(
      action((flags: ExplorerFlags & { range?: string }) => {
        const range = parseRange(flags.range ?? '24h')
        return explore(
          flags,
          (peer) => withCheckout(peer, (view) => priceRows(view, range)),
          renderPrices
        )
      })
    )

  withCommon(
    market
      .command('node')
      .argument('<key>', 'the node key, or its first characters as `scit market nodes` shows them')
  )
    .summary('one node: capacity, offer, latest trades, uptime, status')
    .description(
      "one node: its row of `scit market nodes`, its offer, its latest trades, an uptime strip per hour over 7 days from what it signed (offer renewals in the ledger, its DHT presence record, its status core), and its status core's latest records"
    )
    .option(
      '--timeout <duration>',
      "how long to wait for the node's status core (0: skip it)",
      '5s'
    )
    .addHelpText(
      'after',
      `\nExample:\n  scit market node k3x9pq --json | jq .uptime.share\n\n--json prints {node, offer, trades, uptime {from, hours: ["renewed"|"signed"|"silent"|"before", ...], share}, events: [{time, workload, state, reason}], statusError}\n${UNITS}`
    )
    .action(
      action((key: string, flags: ExplorerFlags) => {
        const ref = parseKeyMatch(key, 'NODE')
        const timeout = flags.timeout === '0' ? 0 : parseDuration(flags.timeout ?? '5s')
        return explore(
          flags,
          (peer) =>
            withCheckout(peer, (view) =>
              nodeDetail(contextOf(peer, view), ref, key, { timeout, peer })
            ),
          (d) => renderNode(d)
        )
      })
    )
}
