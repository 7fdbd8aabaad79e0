/** The explorer's list views: commands, `watch` and `summaryTables` all go through this table, so a view looks the same everywhere. */
import type DHT from 'hyperdht'
import { encodeKey } from '../../lib/keys'
import type { View, KeyText } from '../types'
import type { MarketPeer } from '../peer'
import { HyperbeeView } from '../hyperbee-view'
import type { Filter } from './filters'
import * as M from './model'
import * as R from './render'
import { presences, announced } from './presence'

export interface ViewContext {
  view: View
  market: Buffer
  /** Null: no presence lookups (and no node shows as online). */
  dht: DHT | null
  /** Keys of the peers this explorer is connected to; null: not known. */
  connected?: Set<KeyText> | null
  lookupTimeout?: number
  /** Where presence comes from instead of DHT lookups (the web server's cache). */
  presence?: Pick<M.NodeSources, 'lookup' | 'announced'>
}

/** The keys `peer` has a live connection to (nodes connect under their identity). */
export function connectedKeys(peer: MarketPeer): Set<KeyText> | null {
  return peer.swarm === null
    ? null
    : new Set([...peer.swarm.connections].map((c) => encodeKey(c.remotePublicKey)))
}

export function contextOf(
  peer: MarketPeer,
  view: View,
  opts: { dht?: DHT | null; lookupTimeout?: number } = {}
): ViewContext {
  return {
    view,
    market: peer.key,
    dht: opts.dht !== undefined ? opts.dht : (peer.swarm?.dht ?? null),
    connected: connectedKeys(peer),
    lookupTimeout: opts.lookupTimeout
  }
}

export type FilterName =
  'country' | 'min' | 'attr' | 'maxPrice' | 'state' | 'node' | 'bot' | 'bid' | 'online' | 'all'

export interface ListView {
  name: string
  summary: string
  description: string
  filters: FilterName[]
  /** What --state may be, for views that take it. */
  states?: readonly string[]
  maxPrice?: string
  rows(ctx: ViewContext, f: Filter): Promise<unknown>
  render(rows: unknown, now: number): string
}

function view<T>(
  v: Omit<ListView, 'rows' | 'render'> & {
    rows: (ctx: ViewContext, f: Filter) => Promise<T>
    render: (rows: T, now: number) => string
  }
): ListView {
  return v as ListView
}

export const VIEWS: ListView[] = [
  view({
    name: 'nodes',
    summary: 'live nodes: capacity, prices, leases, last seen',
    description:
      'every node with an offer on the market, joined with its signed presence record on the DHT (verified): where it is, free/total capacity, prices, attributes, running leases and when it last published its record',
    filters: ['country', 'min', 'attr', 'maxPrice', 'node', 'online', 'all'],
    maxPrice:
      'at most this per hour for the --min-* resources asked (default: one core and one GiB)',
    rows: (ctx, f) => nodesOf(ctx, f),
    render: R.renderNodes
  }),
  view({
    name: 'offers',
    summary: 'offers: capacity left, prices, location',
    description:
      'the offers on the market (one per node): capacity left of capacity for sale, price per resource-hour, location, attributes',
    filters: ['country', 'min', 'attr', 'maxPrice', 'node', 'all'],
    maxPrice:
      'at most this per hour for the --min-* resources asked (default: one core and one GiB)',
    rows: (ctx, f) => M.offerRows(ctx.view, f),
    render: R.renderOffers
  }),
  view({
    name: 'bids',
    summary: 'bids: what bots want, at what price',
    description:
      'bids: resources per replica, replicas, placement, max price per replica-hour, state and the trades they matched',
    filters: ['state', 'bot', 'country', 'min', 'attr', 'maxPrice', 'all'],
    states: M.BID_STATES,
    maxPrice: 'only bids whose max price per replica-hour is at most this',
    rows: (ctx, f) => M.bidRows(ctx.view, f),
    render: R.renderBids
  }),
  view({
    name: 'trades',
    summary: 'trades: who bought what from whom, at what price',
    description:
      'trades: bot, node, resources, price per hour, state, escrow held and paid so far, the contract they are settled to',
    filters: ['state', 'node', 'bot', 'bid', 'maxPrice', 'all'],
    states: M.TRADE_STATES,
    maxPrice: 'only trades at most this per hour',
    rows: (ctx, f) => M.tradeRows(ctx.view, f),
    render: R.renderTrades
  }),
  view({
    name: 'contracts',
    summary: 'contracts: settled trades grouped by contract core',
    description:
      'contracts as the ledger knows them: the trades settled to each contract core, its bot, nodes, running replicas, price, escrow and payouts (scit market contract ID shows one in detail)',
    filters: ['state', 'node', 'bot', 'all'],
    states: M.CONTRACT_STATES,
    rows: (ctx, f) => M.contractRows(ctx.view, f),
    render: R.renderContracts
  }),
  view({
    name: 'templates',
    summary: 'published contract templates',
    description:
      'the latest version of every contract template published on the market (scit bot template show NAME prints one)',
    filters: ['bot'],
    rows: (ctx, f) => M.templateRows(ctx.view, f),
    render: R.renderTemplates
  }),
  view({
    name: 'balances',
    summary: 'balances and escrow per key',
    description: 'spendable balance of every key, and the escrow its trades hold',
    filters: ['bot'],
    rows: (ctx, f) => M.balanceRows(ctx.view, f),
    render: R.renderBalances
  }),
  view({
    name: 'stats',
    summary: 'market figures: nodes, capacity sold/free, volume, median prices',
    description:
      'whole-market figures: nodes offering and leasing, capacity for sale, sold and free (live offers), trade volume, median price per resource-hour, money and ops',
    filters: [],
    rows: (ctx) => M.marketStats(ctx.view),
    render: R.renderStats
  })
]

/** Nodes with their presence: looked up on the DHT, or from `ctx.presence`. */
export async function nodesOf(ctx: ViewContext, f: Filter): Promise<M.NodeRow[]> {
  const dht = ctx.dht
  const connected = ctx.connected
  if (ctx.presence !== undefined) return M.nodeRows(ctx.view, f, { ...ctx.presence, connected })
  if (dht === null) return M.nodeRows(ctx.view, f, { connected })
  const opts = { timeout: ctx.lookupTimeout }
  return M.nodeRows(ctx.view, f, {
    lookup: (nodes) => presences(dht, ctx.market, nodes, opts),
    announced: await announced(dht, ctx.market, opts),
    connected
  })
}

export function findView(name: string): ListView | undefined {
  return VIEWS.find((v) => v.name === name)
}

/** One checkout of the view, so every row comes from the same ledger version. */
export async function withCheckout<T>(
  peer: MarketPeer,
  fn: (view: View) => Promise<T>
): Promise<T> {
  const snap = peer.ledger.view.snapshot()
  try {
    return await fn(HyperbeeView.reading(snap))
  } finally {
    await snap.close()
  }
}
