/**
 * The market over time, for `scit market overview | prices` and the web page: each answer reads the view's history
 * records (market/history.ts) and live state, never the market's whole past.
 */
import { PRICE_UNIT, ResourceKind } from '../../lib/resources'
import { ScitError } from '../../lib/errors'
import * as Q from '../queries'
import { HISTORY, Resolution, bucketOf } from '../engine/keys'
import { forSale } from '../engine/records'
import { tradeFlows, mergeFlows, priceSummaries, gaugesAt, PriceSummary } from '../history'
import type { View } from '../types'
import type { ViewContext } from './views'
import { nodesOf } from './views'

/** The kinds the page charts; ipv4 and gpu ride along in the JSON when traded. */
export const CHART_KINDS: readonly ResourceKind[] = ['cpu', 'memory', 'ssd', 'hdd']

const DAY = 24 * HISTORY.hour

export interface Change {
  now: number
  /** null: the market had not begun then. */
  before: number | null
}

export interface Overview {
  time: number
  nodes: { offering: number; online: number; lapsed: number; offers: Change }
  /** Per kind: capacity of live offers, what leases hold, and the share leased now and 24 h ago (engine totals). */
  capacity: Record<string, { total: number; leased: number; share: Change }>
  contracts: { live: number; leases: Change }
  /** Over the 24 h ending with this hour, and the 24 h before. */
  trades: Change
  volume: Change
}

function share(total: number, free: number): number {
  return total === 0 ? 0 : (total - free) / total
}

/** `now`: wall clock ms (the windows end with its hour). */
export async function overviewRows(ctx: ViewContext, now = Date.now()): Promise<Overview> {
  const view = ctx.view
  // every offer once, with its node's presence: what `stats` sums over live offers, and who is online
  const nodes = await nodesOf(ctx, { all: true })
  const live = nodes.filter((n) => n.offer === 'live')
  const base = await Q.stats(view)
  const ago = await gaugesAt(view, now - DAY)
  const capacity: Overview['capacity'] = {}
  for (const k of CHART_KINDS) {
    const total = live.reduce((n, o) => n + o.total[k], 0)
    capacity[k] = {
      total,
      leased: total - live.reduce((n, o) => n + o.free[k], 0),
      share: {
        now: share(base.capacity.total[k], base.capacity.free[k]),
        before: ago === null ? null : share(ago.capacity[k], ago.free[k])
      }
    }
  }
  const end = bucketOf('hour', now) + HISTORY.hour
  const last = mergeFlows(await tradeFlows(view, 'hour', end - DAY, end))
  const prev = mergeFlows(await tradeFlows(view, 'hour', end - 2 * DAY, end - DAY))
  const began = ago !== null || (await gaugesAt(view, now - 2 * DAY)) !== null
  return {
    time: now,
    nodes: {
      offering: live.length,
      online: nodes.filter((n) => n.online).length,
      lapsed: nodes.filter((n) => n.offer === 'lapsed').length,
      offers: { now: base.offers, before: ago?.offers ?? null }
    },
    capacity,
    contracts: {
      live: await liveContracts(view),
      leases: { now: base.trades.settled ?? 0, before: ago?.leases ?? null }
    },
    trades: { now: last.matched, before: began ? prev.matched : null },
    volume: { now: last.value, before: began ? prev.value : null }
  }
}

/** Contracts with a running lease, from the live trades alone (contractRows reads their bots' whole history). */
async function liveContracts(view: View): Promise<number> {
  const live = await Q.listTrades(view, { live: true })
  return new Set(live.filter((t) => t.state === 'settled').map((t) => t.contract)).size
}

export const RANGES: Record<string, { ms: number; resolution: Resolution }> = {
  '1h': { ms: HISTORY.hour, resolution: 'minute' },
  '6h': { ms: 6 * HISTORY.hour, resolution: 'minute' },
  '24h': { ms: DAY, resolution: 'hour' },
  '7d': { ms: 7 * DAY, resolution: 'hour' },
  '30d': { ms: 30 * DAY, resolution: 'hour' }
}

export function parseRange(text: string): string {
  if (!(text in RANGES))
    throw new ScitError(
      'INVALID_ARGUMENT',
      `--range: "${text}" is not one of ${Object.keys(RANGES).join(', ')}`
    )
  return text
}

export interface PricePoint {
  start: number
  matched: number
  settled: number
  value: number
  prices: Partial<Record<ResourceKind, PriceSummary>>
}

export interface DepthLevel {
  /** Per resource-hour, per unit (cpu per core, sizes per GiB). */
  price: number
  /** cpu in millicores, sizes in bytes. */
  amount: number
}

export interface Prices {
  range: string
  resolution: Resolution
  from: number
  to: number
  /** Buckets with trades, oldest first. */
  history: PricePoint[]
  /** Over the whole range. */
  summary: Partial<Record<ResourceKind, PriceSummary>>
  /**
   * Per kind: free capacity of the offers for sale at each unit price (cheapest first), and what open bids ask at
   * the most each could pay per unit of that kind (its max price over its amount of it: the rest of its
   * resources counted free), highest first.
   */
  depth: Record<string, { offers: DepthLevel[]; bids: DepthLevel[] }>
}

export async function priceRows(view: View, range: string, now = Date.now()): Promise<Prices> {
  const { ms, resolution } = RANGES[parseRange(range)]
  const to = bucketOf(resolution, now) + HISTORY[resolution]
  const from = to - ms
  const buckets = await tradeFlows(view, resolution, from, to)
  return {
    range,
    resolution,
    from,
    to,
    history: buckets.map((b) => ({
      start: b.start,
      matched: b.matched,
      settled: b.settled,
      value: b.value,
      prices: priceSummaries(b)
    })),
    summary: priceSummaries(mergeFlows(buckets)),
    depth: await depthRows(view, now)
  }
}

async function depthRows(view: View, now: number): Promise<Prices['depth']> {
  const ttl = (await Q.getGenesis(view))?.offerTtl ?? 0
  const offers = (await Q.listOffers(view)).filter((o) => forSale(o, ttl, now))
  const bids = await Q.listBids(view, { state: 'open' })
  const out: Prices['depth'] = {}
  for (const k of CHART_KINDS) {
    const supply = new Map<number, number>()
    for (const o of offers)
      if (o.available[k] > 0)
        supply.set(o.prices[k], (supply.get(o.prices[k]) ?? 0) + o.available[k])
    const demand = new Map<number, number>()
    for (const b of bids) {
      if (b.resources[k] === 0) continue
      const p = Math.floor((b.maxPrice * PRICE_UNIT[k]) / b.resources[k])
      demand.set(p, (demand.get(p) ?? 0) + b.resources[k] * b.replicas)
    }
    const levels = (m: Map<number, number>, dir: 1 | -1): DepthLevel[] =>
      [...m.entries()]
        .sort((a, b) => dir * (a[0] - b[0]))
        .map(([price, amount]) => ({ price, amount }))
    out[k] = { offers: levels(supply, 1), bids: levels(demand, -1) }
  }
  return out
}
