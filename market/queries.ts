/** Read-only queries over any market View, following the key layout of market/engine/keys.ts. */
import { fits, Resources, RESOURCE_KINDS } from '../lib/resources'
import * as K from './engine/keys'
import { emptyCounts } from './engine/counts'
import { forSale, isLive } from './engine/records'
import {
  offerRecord,
  bidRecord,
  tradeRecord,
  templateRecord,
  outcomeRecord,
  genesisRecord,
  uintRecord,
  countsRecord,
  TRADE_STATES,
  decode,
  Genesis
} from './messages'
import type {
  View,
  Offer,
  Bid,
  BidState,
  Trade,
  TradeFilter,
  OfferFilter,
  Template,
  Outcome,
  KeyText,
  Id
} from './types'
import type c from 'compact-encoding'

async function read<T>(view: View, enc: c.Encoding<T>, key: string): Promise<T | null> {
  const buf = await view.get(key)
  return buf === null ? null : decode(enc, buf)
}

async function* tails(
  view: View,
  prefix: string,
  opts: { reverse?: boolean; limit?: number } = {}
): AsyncIterable<string> {
  for await (const { key } of view.range({ ...K.prefixRange(prefix), ...opts })) yield K.tail(key)
}

export function getOffer(view: View, node: KeyText): Promise<Offer | null> {
  return read(view, offerRecord, K.offer(node))
}

/** Offers, by country when the filter names one (an index range), else all; withdrawn ones only when asked. */
export async function listOffers(view: View, filter: OfferFilter = {}): Promise<Offer[]> {
  const out: Offer[] = []
  const ttl = filter.selling === true ? ((await getGenesis(view))?.offerTtl ?? 0) : 0
  const now = ttl > 0 ? await engineTime(view) : 0
  const keep = (o: Offer): boolean =>
    matchesOffer(o, filter) && (filter.selling !== true || forSale(o, ttl, now))
  if (filter.country !== undefined) {
    for await (const node of tails(view, `ix/offer-country/${filter.country}/`)) {
      const o = await getOffer(view, node)
      if (o !== null && keep(o)) out.push(o)
    }
    return out
  }
  for await (const { value } of view.range(K.prefixRange('offer/'))) {
    const o = decode(offerRecord, value)
    if (keep(o)) out.push(o)
  }
  return out
}

/** Offers from the cheapest headline price (one core + one GiB for an hour) up, or down with `reverse`. */
export async function offersByPrice(
  view: View,
  opts: { reverse?: boolean; limit?: number; filter?: OfferFilter } = {}
): Promise<Offer[]> {
  const out: Offer[] = []
  for await (const node of tails(view, 'ix/offer-price/', { reverse: opts.reverse })) {
    const o = await getOffer(view, node)
    if (o !== null && matchesOffer(o, opts.filter ?? {})) out.push(o)
    if (opts.limit !== undefined && out.length >= opts.limit) break
  }
  return out
}

function matchesOffer(o: Offer, f: OfferFilter): boolean {
  if (o.withdrawn && f.includeWithdrawn !== true) return false
  if (f.country !== undefined && o.country !== f.country) return false
  if (f.attributes !== undefined && !f.attributes.every((a) => o.attributes.includes(a)))
    return false
  if (f.minAvailable !== undefined) {
    const need = {} as Resources
    for (const k of RESOURCE_KINDS) need[k] = f.minAvailable[k] ?? 0
    if (!fits(need, o.available)) return false
  }
  return true
}

export function getBid(view: View, id: Id): Promise<Bid | null> {
  return read(view, bidRecord, K.bid(id))
}

/** Bids of one bot (oldest first), or every bid; optionally in one state. Open bids alone come in book order. */
export async function listBids(
  view: View,
  filter: { bot?: KeyText; state?: BidState } = {}
): Promise<Bid[]> {
  const out: Bid[] = []
  const prefix =
    filter.bot !== undefined
      ? `ix/bid-bot/${filter.bot}/`
      : filter.state === 'open'
        ? 'ix/bid-book/'
        : null
  if (prefix === null) {
    for await (const { value } of view.range(K.prefixRange('bid/'))) {
      const b = decode(bidRecord, value)
      if (filter.state === undefined || b.state === filter.state) out.push(b)
    }
    return out
  }
  for await (const id of tails(view, prefix)) {
    const b = await getBid(view, id)
    if (b !== null && (filter.state === undefined || b.state === filter.state)) out.push(b)
  }
  return out
}

export function getTrade(view: View, id: Id): Promise<Trade | null> {
  return read(view, tradeRecord, K.trade(id))
}

/**
 * Trades by node or bot (index ranges, oldest match first), by bid (a prefix of trade ids), the live ones (their
 * index), or all: the whole history, oldest first.
 */
export async function listTrades(view: View, filter: TradeFilter = {}): Promise<Trade[]> {
  const keep = (t: Trade): boolean =>
    (filter.live !== true || isLive(t)) &&
    (filter.node === undefined || t.node === filter.node) &&
    (filter.bot === undefined || t.bot === filter.bot) &&
    (filter.state === undefined || t.state === filter.state) &&
    (filter.bid === undefined || t.bid === filter.bid)
  const out: Trade[] = []
  const index =
    filter.node !== undefined
      ? `ix/trade-node/${filter.node}/`
      : filter.bot !== undefined
        ? `ix/trade-bot/${filter.bot}/`
        : filter.live === true && filter.bid === undefined
          ? K.TRADES_LIVE
          : null
  if (index !== null) {
    for await (const id of tails(view, index)) {
      const t = await getTrade(view, id)
      if (t !== null && keep(t)) out.push(t)
    }
    return out
  }
  for await (const { value } of view.range(
    K.prefixRange(filter.bid !== undefined ? `trade/${filter.bid}.` : 'trade/')
  )) {
    const t = decode(tradeRecord, value)
    if (keep(t)) out.push(t)
  }
  return out
}

export async function balance(view: View, key: KeyText): Promise<number> {
  return (await read(view, uintRecord, K.balance(key))) ?? 0
}

export async function listBalances(view: View): Promise<Array<{ key: KeyText; balance: number }>> {
  const out: Array<{ key: KeyText; balance: number }> = []
  for await (const { key, value } of view.range(K.prefixRange('balance/')))
    out.push({ key: K.tail(key), balance: decode(uintRecord, value) })
  return out
}

/** The latest version of every template, by name. */
export async function listTemplates(view: View): Promise<Template[]> {
  const out: Template[] = []
  for await (const name of tails(view, 'template-owner/')) {
    const t = await getTemplate(view, name)
    if (t !== null) out.push(t)
  }
  return out
}

/** One version of a template, or its latest. */
export async function getTemplate(
  view: View,
  name: string,
  version?: number
): Promise<Template | null> {
  if (version !== undefined) return read(view, templateRecord, K.template(name, version))
  for await (const { value } of view.range({
    ...K.prefixRange(`template/${name}/`),
    reverse: true,
    limit: 1
  }))
    return decode(templateRecord, value)
  return null
}

export async function getOutcome(view: View, id: Id): Promise<Outcome | null> {
  return (
    (await read(view, outcomeRecord, K.accepted(id))) ?? read(view, outcomeRecord, K.rejected(id))
  )
}

export async function engineTime(view: View): Promise<number> {
  return (await read(view, uintRecord, K.META_TIME)) ?? 0
}

export function getGenesis(view: View): Promise<Genesis | null> {
  return read(view, genesisRecord, K.META_GENESIS)
}

export async function listIndexers(view: View): Promise<KeyText[]> {
  const out: KeyText[] = []
  for await (const id of tails(view, 'gov/indexer/')) out.push(id)
  return out
}

export interface Stats {
  time: number
  minted: number
  balances: number // Σ balances
  escrow: number // Σ escrow held by trades
  offers: number // live offers
  openBids: number
  trades: Record<string, number>
  /** Over every trade ever settled: how many, Σ price × duration, paid, refunded. */
  volume: { trades: number; value: number; paid: number; refunded: number }
  accepted: number
  rejected: number
  /** Over the offers not withdrawn (a lapsed one too): capacity for sale and what no lease holds. */
  capacity: { total: Resources; free: Resources }
}

/** From the engine's running totals: one record read whatever the market's size. */
export async function stats(view: View): Promise<Stats> {
  const c = (await read(view, countsRecord, K.META_COUNTS)) ?? emptyCounts()
  const trades: Record<string, number> = {}
  TRADE_STATES.forEach((state, i) => {
    if (c.trades[i] > 0) trades[state] = c.trades[i]
  })
  const s: Stats = {
    time: await engineTime(view),
    minted: (await read(view, uintRecord, K.META_MINTED)) ?? 0,
    balances: c.balances,
    escrow: c.escrow,
    offers: c.offers,
    openBids: c.openBids,
    trades,
    volume: { trades: c.settled, value: c.value, paid: c.paid, refunded: c.refunded },
    accepted: c.accepted,
    rejected: c.rejected,
    capacity: { total: c.capacity, free: c.free }
  }
  return s
}
