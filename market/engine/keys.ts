/**
 * The view key layout. Every key is ASCII, so JS string order is a Hyperbee's byte order; numbers are
 * zero-padded to 16 digits so they sort numerically. ix/, due/ and vote keys hold one byte (MARK):
 * the record lives under its primary key. Balances are spendable money only: escrow lives in trades.
 */
import b4a from 'b4a'
import type { Prices } from '../../lib/resources'
import { unitCost } from './price'

/** The last character of a prefix range: above every ASCII key. */
export const END = '\xff'

export const MARK = b4a.from([1])

export function pad(n: number): string {
  return String(n).padStart(16, '0')
}

export const META_GENESIS = 'meta/genesis'
export const META_TIME = 'meta/time'
export const META_MINTED = 'meta/minted'
export const META_COUNTS = 'meta/counts'

/**
 * Keys by a party's key text, built once: a fresh concatenation is flattened and hashed again at every Map
 * lookup (the staged writes, the views), and these are read and written by nearly every op.
 */
function byParty(prefix: string): (key: string) => string {
  const made = new Map<string, string>()
  return (key) => {
    let k = made.get(key)
    if (k === undefined) {
      if (made.size >= 4096) made.clear()
      k = prefix + key
      made.set(key, k)
    }
    return k
  }
}

export const seq = byParty('seq/')

export const OFFERS = 'offer/'
export const offer = byParty(OFFERS)
export const offerByCountry = (country: string, node: string): string =>
  `ix/offer-country/${country}/${node}`
export const offerByPrice = (price: number, node: string): string =>
  `ix/offer-price/${pad(price)}/${node}`

export const bid = (id: string): string => `bid/${id}`
export const bidBook = (maxPrice: number, time: number, id: string): string =>
  `ix/bid-book/${pad(Number.MAX_SAFE_INTEGER - maxPrice)}/${pad(time)}/${id}`
export const bidByBot = (bot: string, time: number, id: string): string =>
  `ix/bid-bot/${bot}/${pad(time)}/${id}`

export const trade = (id: string): string => `trade/${id}`
export const tradeByNode = (node: string, at: number, id: string): string =>
  `ix/trade-node/${node}/${pad(at)}/${id}`
export const tradeByBot = (bot: string, at: number, id: string): string =>
  `ix/trade-bot/${bot}/${pad(at)}/${id}`
/** Trades matched or settled: what queries of the market's live state read, whatever its history. */
export const TRADES_LIVE = 'ix/trade-live/'
export const tradeLive = (id: string): string => TRADES_LIVE + id

export const balance = byParty('balance/')

export const template = (name: string, version: number): string =>
  `template/${name}/${pad(version)}`
export const templateOwner = (name: string): string => `template-owner/${name}`

export const indexer = (identity: string): string => `gov/indexer/${identity}`
export const vote = (change: string, voter: string): string => `gov/vote/${change}/${voter}`

export type DueKind = 'expire' | 'release' | 'end'
export const due = (time: number, kind: DueKind, id: string): string =>
  `due/${pad(time)}/${kind}/${id}`

/**
 * History for charts (engine/history.ts): trade flows per minute and per hour, the market's gauges at the end
 * of each hour an op fell in, and the hours in which a node renewed its offer.
 */
export const HISTORY = { minute: 60_000, hour: 3_600_000 } as const
export type Resolution = keyof typeof HISTORY
export const FLOWS = (res: Resolution): string => `hist/${res}/`
export const flows = (res: Resolution, start: number): string => FLOWS(res) + pad(start)
export const GAUGES = 'hist/gauge/'
export const gauges = (hour: number): string => GAUGES + pad(hour)
export const RENEWALS = (node: string): string => `hist/renewed/${node}/`
export const renewal = (node: string, hour: number): string => RENEWALS(node) + pad(hour)
export const bucketOf = (res: Resolution, time: number): number => time - (time % HISTORY[res])

export const ACCEPTED = 'op/'
export const REJECTED = 'rejected/'
export const accepted = (id: string): string => ACCEPTED + id
export const rejected = (id: string): string => REJECTED + id

/** The last path segment of an index key: the id it points to. */
export function tail(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1)
}

export function prefixRange(prefix: string): { gte: string; lt: string } {
  return { gte: prefix, lt: prefix + END }
}

/** For people browsing: one core and 1 GiB for an hour. Matching ranks offers at each bid's own resources. */
export const HEADLINE = { cpu: 1000, memory: 1024 ** 3, ssd: 0, hdd: 0, ipv4: 0, gpu: 0 }
export function headlinePrice(prices: Prices): number {
  const p = unitCost(HEADLINE, prices)
  return p === Infinity ? Number.MAX_SAFE_INTEGER : p
}
