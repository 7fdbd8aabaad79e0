/**
 * The view key layout. Every key is ASCII, so JS string order equals the byte
 * order of a Hyperbee view; numbers are zero-padded to 16 digits (any safe
 * integer) so they sort numerically. `·` below marks an index entry whose
 * value is a single byte: the record lives under its primary key.
 *
 *   meta/genesis                               Genesis (faucets, settlement window, founder)
 *   meta/time                                  uint: engine time, the clamped op timestamp
 *   meta/minted                                uint: all money ever deposited (conservation)
 *   meta/counts                                Counts: running totals for stats (engine/counts.ts)
 *   seq/<author>                               uint: last seq seen from an author (replay guard)
 *
 *   offer/<node>                               Offer (one per node key)
 *   ix/offer-country/<CC>/<node>               ·  offers by country
 *   ix/offer-price/<price16>/<node>            ·  offers by headline price (see headlinePrice)
 *   bid/<bid>                                  Bid
 *   ix/bid-book/<inverse maxPrice16>/<time16>/<bid>  ·  resting bids in priority order (price desc, time asc)
 *   ix/bid-bot/<bot>/<time16>/<bid>            ·  bids by bot
 *   trade/<bid>.<replica>                      Trade (so a bid's trades are one range)
 *   ix/trade-node/<node>/<matchedAt16>/<trade> ·  trades by node
 *   ix/trade-bot/<bot>/<matchedAt16>/<trade>   ·  trades by bot
 *   balance/<key>                              uint: spendable balance (escrow lives in trades)
 *   template/<name>/<version16>                Template
 *   template-owner/<name>                      KeyText of the name's first publisher
 *   gov/indexer/<identity>                     writer key (32 bytes; one mark byte for the founder)
 *   gov/vote/<change>/<voter>                  ·  <change> = <action>:<identity>:<writer>
 *
 *   due/<time16>/<kind>/<id>                   ·  deadlines: expire (bid), release (unsettled trade), end (lease);
 *                                                 never deleted: the engine reads those after its last time
 *   op/<id>                                    Outcome of an accepted op
 *   rejected/<id>                              Outcome of a rejected op
 */
import b4a from 'b4a'
import type { Prices } from '../../lib/resources'
import { unitCost } from './price'

/** The last character of a prefix range: above every ASCII key. */
export const END = '\xff'

export const MARK = b4a.from([1])

export function pad (n: number): string {
  return String(n).padStart(16, '0')
}

export const META_GENESIS = 'meta/genesis'
export const META_TIME = 'meta/time'
export const META_MINTED = 'meta/minted'
export const META_COUNTS = 'meta/counts'

export const seq = (author: string): string => `seq/${author}`

export const offer = (node: string): string => `offer/${node}`
export const offerByCountry = (country: string, node: string): string => `ix/offer-country/${country}/${node}`
export const offerByPrice = (price: number, node: string): string => `ix/offer-price/${pad(price)}/${node}`

export const bid = (id: string): string => `bid/${id}`
export const bidBook = (maxPrice: number, time: number, id: string): string => `ix/bid-book/${pad(Number.MAX_SAFE_INTEGER - maxPrice)}/${pad(time)}/${id}`
export const bidByBot = (bot: string, time: number, id: string): string => `ix/bid-bot/${bot}/${pad(time)}/${id}`

export const trade = (id: string): string => `trade/${id}`
export const tradeByNode = (node: string, at: number, id: string): string => `ix/trade-node/${node}/${pad(at)}/${id}`
export const tradeByBot = (bot: string, at: number, id: string): string => `ix/trade-bot/${bot}/${pad(at)}/${id}`

export const balance = (key: string): string => `balance/${key}`

export const template = (name: string, version: number): string => `template/${name}/${pad(version)}`
export const templateOwner = (name: string): string => `template-owner/${name}`

export const indexer = (identity: string): string => `gov/indexer/${identity}`
export const vote = (change: string, voter: string): string => `gov/vote/${change}/${voter}`

export type DueKind = 'expire' | 'release' | 'end'
export const due = (time: number, kind: DueKind, id: string): string => `due/${pad(time)}/${kind}/${id}`

export const accepted = (id: string): string => `op/${id}`
export const rejected = (id: string): string => `rejected/${id}`

/** The last path segment of an index key: the id it points to. */
export function tail (key: string): string {
  return key.slice(key.lastIndexOf('/') + 1)
}

/** A prefix range: every key that starts with `prefix`. */
export function prefixRange (prefix: string): { gte: string, lt: string } {
  return { gte: prefix, lt: prefix + END }
}

/**
 * The price the explorer sorts offers by: one core and one GiB of memory for
 * an hour, the shape of a small VM. A single number cannot rank every bid
 * (the engine ranks per bid, at the bid's own resource vector); this one is
 * for people browsing.
 */
export const HEADLINE = { cpu: 1000, memory: 1024 ** 3, ssd: 0, hdd: 0, ipv4: 0, gpu: 0 }
export function headlinePrice (prices: Prices): number {
  const p = unitCost(HEADLINE, prices)
  return p === Infinity ? Number.MAX_SAFE_INTEGER : p
}
