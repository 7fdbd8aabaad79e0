/**
 * Read-only explorer commands: `scit market offers`, `scit market trades`.
 * They join the market without an identity, so they never write anything.
 */
import { Command } from 'commander'
import { withCommon, configFrom, output, action, CommonFlags } from '../lib/command'
import { formatResources } from '../lib/resources'
import { decodeKey, encodeKey, shortKey } from '../lib/keys'
import { ScitError } from '../lib/errors'
import { openCommandPeer } from './cli-peer'
import type { Offer, Trade, TradeFilter, TradeState } from './types'

interface OffersFlags extends CommonFlags { country?: string; attribute?: string[]; all?: boolean }
interface TradesFlags extends CommonFlags { node?: string; bot?: string; state?: string; bid?: string }

const TRADE_STATES: readonly TradeState[] = ['matched', 'settled', 'released', 'closed', 'failed', 'ended']

export function register (market: Command): void {
  withCommon(market.command('offers'))
    .summary('list offers')
    .description('list the offers on the market: capacity left, prices, location')
    .option('--country <CC>', 'only offers in this country (ISO 3166 alpha-2)')
    .option('--attribute <name>', 'only offers with this attribute (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--all', 'include withdrawn offers')
    .action(action(async (flags: OffersFlags) => {
      const config = configFrom(flags)
      const { peer, close } = await openCommandPeer(config, null)
      try {
        const offers = await peer.client.offers({ country: flags.country?.toUpperCase(), attributes: flags.attribute, includeWithdrawn: flags.all === true })
        output(flags, offers, () => offers.length === 0 ? 'no offers' : table(['node', 'where', 'available', 'of', 'cpu/h', 'GiB/h', 'attributes'], offers.map(offerRow)))
      } finally {
        await close()
      }
    }))

  withCommon(market.command('trades'))
    .summary('list trades')
    .description('list trades: who bought what from whom, at what price, in what state')
    .option('--node <key>', 'only trades of this node')
    .option('--bot <key>', 'only trades of this bot')
    .option('--bid <id>', 'only the trades of one bid')
    .option('--state <state>', `only trades in this state (${TRADE_STATES.join(', ')})`)
    .action(action(async (flags: TradesFlags) => {
      const config = configFrom(flags)
      const filter: TradeFilter = {}
      if (flags.node) filter.node = encodeKey(decodeKey(flags.node, 'node key'))
      if (flags.bot) filter.bot = encodeKey(decodeKey(flags.bot, 'bot key'))
      if (flags.bid) filter.bid = flags.bid
      if (flags.state) {
        if (!(TRADE_STATES as readonly string[]).includes(flags.state)) throw new ScitError('INVALID_ARGUMENT', `--state must be one of ${TRADE_STATES.join(', ')}`)
        filter.state = flags.state as TradeState
      }
      const { peer, close } = await openCommandPeer(config, null)
      try {
        const trades = await peer.client.trades(filter)
        output(flags, trades, () => trades.length === 0 ? 'no trades' : table(['trade', 'state', 'node', 'bot', 'resources', 'price/h', 'escrow', 'paid'], trades.map(tradeRow)))
      } finally {
        await close()
      }
    }))
}

function offerRow (o: Offer): string[] {
  return [shortKey(o.node), `${o.country} ${o.city}`, formatResources(o.available), formatResources(o.resources), String(o.prices.cpu), String(o.prices.memory), o.attributes.join(',') + (o.withdrawn ? ' (withdrawn)' : '')]
}

function tradeRow (t: Trade): string[] {
  return [t.id.slice(0, 12), t.state, shortKey(t.node), shortKey(t.bot), formatResources(t.resources), String(t.price), String(t.escrow), String(t.paid)]
}

function table (head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  return [line(head), ...rows.map(line)].join('\n')
}
