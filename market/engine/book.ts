/**
 * The order book: offers, bids and matching (docs/ARCHITECTURE.md "Engine"). A bid places all its replicas in one step
 * or rests; trades are at the offer's posted price; resting bids get another look when an offer gains capacity.
 */
import { RESOURCE_KINDS, ZERO, fits, subtract, add, scale } from '../../lib/resources'
import type { Prices } from '../../lib/resources'
import * as K from './keys'
import type { Offer, OfferBody, Bid, BidBody, CancelBody, Trade, KeyText } from '../types'
import type { OfferLayer } from './offer-book'
import { Ctx, reject } from './context'
import { getOffer, putOffer, getBid, putBid, putTrade, forSale } from './records'
import { unitCost, fitsIn, times } from './price'

export async function handleOffer(ctx: Ctx, body: OfferBody, update: boolean): Promise<void> {
  const prev = await getOffer(ctx.tx, ctx.author)
  if (update && (prev === null || prev.withdrawn))
    reject(
      prev === null ? 'not-found' : 'bad-state',
      `${ctx.author} has no live offer to update: send an offer first`
    )
  if (!update && prev !== null && !prev.withdrawn)
    reject('bad-state', `${ctx.author} already has a live offer: send offer-update to change it`)
  let available = body.resources
  if (prev !== null) {
    const leased = subtract(prev.resources, prev.available)
    if (!fits(leased, body.resources)) {
      const short = RESOURCE_KINDS.filter((k) => leased[k] > body.resources[k])
      reject(
        'invalid',
        `the new total is below what running leases hold (${short.map((k) => `${k} ${leased[k]}`).join(', ')})`
      )
    }
    available = subtract(body.resources, leased)
  }
  // The same prices again (a node renewing its offer) keep the offer's place among equal prices.
  const time =
    prev !== null &&
    !prev.withdrawn &&
    RESOURCE_KINDS.every((k) => prev.prices[k] === body.prices[k])
      ? prev.time
      : ctx.now
  const next: Offer = {
    ...body,
    node: ctx.author,
    id: ctx.id,
    available,
    time,
    renewed: ctx.now,
    withdrawn: false
  }
  putOffer(ctx.tx, prev, next)
  ctx.dirty.add(ctx.author)
}

export async function handleWithdraw(ctx: Ctx): Promise<void> {
  const prev = await getOffer(ctx.tx, ctx.author)
  if (prev === null) reject('not-found', `${ctx.author} has no offer`)
  if (prev.withdrawn) reject('bad-state', 'the offer is already withdrawn')
  putOffer(ctx.tx, prev, { ...prev, withdrawn: true, time: ctx.now })
}

export async function handleBid(ctx: Ctx, body: BidBody): Promise<void> {
  if (body.expiry < ctx.now)
    reject('invalid', `expiry ${body.expiry} is before the engine time ${ctx.now}`)
  const bid: Bid = {
    ...body,
    id: ctx.id,
    bot: ctx.author,
    time: ctx.now,
    state: 'open',
    trades: []
  }
  if (await fill(ctx, bid, false)) return
  // A replica no node could ever hold is a mistake (units, typo), not demand; in an empty market the bid rests.
  const layer = await ctx.tx.offers()
  let any = false
  const inBook = layer.book.mayHold(body.resources)
  for (const o of forSaleNow(ctx, layer)) {
    any = true
    if (fitsIn(body.resources, o.resources)) {
      putBid(ctx.tx, null, bid)
      return
    }
    if (!inBook && !layer.staged.has(o.node)) break // the staged ones came first: none fits
  }
  if (any) reject('invalid', 'one replica needs more than any node in the market has in total')
  putBid(ctx.tx, null, bid)
}

export async function handleCancel(ctx: Ctx, body: CancelBody): Promise<void> {
  const bid = await getBid(ctx.tx, body.bid)
  if (bid === null) reject('not-found', `no bid ${body.bid}`)
  if (bid.bot !== ctx.author) reject('not-owner', `bid ${bid.id} belongs to ${bid.bot}`)
  if (bid.state !== 'open') reject('bad-state', `bid ${bid.id} is ${bid.state}`)
  putBid(ctx.tx, bid, { ...bid, state: 'cancelled' })
}

export async function expireBid(ctx: Ctx, id: string): Promise<void> {
  const bid = await getBid(ctx.tx, id)
  if (bid !== null && bid.state === 'open') putBid(ctx.tx, bid, { ...bid, state: 'expired' })
}

/** Capacity a lease no longer holds goes back to its offer, and the book gets another look. */
export async function freeCapacity(ctx: Ctx, trade: Trade): Promise<void> {
  const offer = await getOffer(ctx.tx, trade.node)
  if (offer === null) return
  putOffer(ctx.tx, offer, { ...offer, available: add(offer.available, trade.resources) })
  if (!offer.withdrawn) ctx.dirty.add(offer.node)
}

/** Resting bids looked at per op, best first: bids cost nothing to place, so the book can be deep. */
export const RETRY_SCAN = 1000

/**
 * Re-match only resting bids that could use an offer that gained capacity: any other failed before against
 * the same capacity. RETRY_SCAN bounds the walk so a deep book cannot make one op unboundedly slow.
 */
export async function retryResting(ctx: Ctx): Promise<void> {
  if (ctx.dirty.size === 0) return
  const changed: Offer[] = []
  for (const node of ctx.dirty) {
    const o = await getOffer(ctx.tx, node)
    if (o !== null && forSale(o, ctx.genesis.offerTtl, ctx.now)) changed.push(o)
  }
  ctx.dirty.clear()
  if (changed.length === 0) return
  for await (const { key } of ctx.tx.range({
    ...K.prefixRange('ix/bid-book/'),
    limit: RETRY_SCAN
  })) {
    const bid = await getBid(ctx.tx, K.tail(key))
    if (bid === null || bid.state !== 'open' || bid.expiry < ctx.now) continue
    if (!changed.some((o) => room(bid, o) > 0 && unitCost(bid.resources, o.prices) <= bid.maxPrice))
      continue
    if (await fill(ctx, bid, true)) {
      for (let i = 0; i < changed.length; i++)
        changed[i] = (await getOffer(ctx.tx, changed[i].node)) ?? changed[i]
    }
  }
}

/** Every offer on sale now, the staged ones first (an O(offers) walk: only for a bid that fills nowhere). */
function* forSaleNow(ctx: Ctx, layer: OfferLayer): Iterable<Offer> {
  for (const o of layer.staged.values())
    if (o !== null && forSale(o, ctx.genesis.offerTtl, ctx.now)) yield o
  for (const o of layer.book.values()) {
    if (!layer.staged.has(o.node) && forSale(o, ctx.genesis.offerTtl, ctx.now)) yield o
  }
}

/** How many replicas of `bid` this offer could take now, honouring every constraint but spread. */
function room(bid: Bid, o: Offer): number {
  if (!fitsIn(bid.resources, o.available)) return 0
  if (bid.duration < o.minLease || bid.duration > o.maxLease) return 0
  if (bid.countries.length > 0 && !bid.countries.includes(o.country)) return 0
  for (const a of bid.attributes) if (!o.attributes.includes(a)) return 0
  if (bid.exclude.length > 0 && bid.exclude.includes(o.node)) return 0
  return times(bid.resources, o.available, bid.replicas)
}

interface Candidate {
  offer: Offer
  unit: number
  room: number
}

/** Price-time priority: cheapest for this bid, then the older offer, then the lower node key. */
function better(a: Candidate, b: Candidate): boolean {
  if (a.unit !== b.unit) return a.unit < b.unit
  if (a.offer.time !== b.offer.time) return a.offer.time < b.offer.time
  return a.offer.node < b.offer.node
}

/**
 * The best offers for `bid`, best first, until they hold every replica; null when they cannot.
 * Threshold algorithm over the per-kind price lists: an offer not reached yet costs at least the bid
 * priced at the lists' current prices, so once that floor is too high nothing further down can win.
 */
function candidates(ctx: Ctx, bid: Bid, layer: OfferLayer): Candidate[] | null {
  const ttl = ctx.genesis.offerTtl
  const found: Candidate[] = [] // sorted, best first
  const seen = new Set<KeyText>()
  const lapsed: KeyText[] = []
  const consider = (o: Offer): void => {
    if (!forSale(o, ttl, ctx.now)) {
      // Lapsed at the engine time the view holds: it stays so until its node writes the offer again.
      if (!forSale(o, ttl, ctx.since) && !layer.staged.has(o.node)) lapsed.push(o.node)
      return
    }
    const r = room(bid, o)
    if (r === 0) return
    const unit = unitCost(bid.resources, o.prices)
    if (unit > bid.maxPrice) return
    const c = { offer: o, unit, room: bid.spread ? 1 : r }
    let i = found.length
    while (i > 0 && better(c, found[i - 1])) i--
    found.splice(i, 0, c)
  }
  for (const [node, o] of layer.staged) {
    seen.add(node)
    if (o !== null) consider(o)
  }
  const kinds = RESOURCE_KINDS.filter((k) => bid.resources[k] > 0)
  const lists = kinds.map((k) => layer.book.byPrice(k))
  const at = kinds.map(() => 0)
  const floor: Prices = { ...ZERO }
  for (;;) {
    let exhausted = kinds.length === 0
    for (let j = 0; j < kinds.length && !exhausted; j++) {
      if (at[j] >= lists[j].length) exhausted = true
      else floor[kinds[j]] = lists[j][at[j]].price
    }
    if (exhausted) break // every offer with some of each needed kind was seen
    const bound = unitCost(bid.resources, floor)
    if (bound > bid.maxPrice || enough(found, bid.replicas, bound)) break
    for (let j = 0; j < kinds.length; j++) {
      const e = lists[j][at[j]++]
      if (e === undefined || seen.has(e.node)) continue
      seen.add(e.node)
      const o = layer.book.get(e.node)
      if (o !== undefined) consider(o)
    }
  }
  for (const node of lapsed) layer.book.delete(node) // after the walk: the lists shift
  const n = needed(found, bid.replicas)
  return n === 0 ? null : found.slice(0, n)
}

/** How many of the best candidates hold every replica (0: all of them cannot). */
function needed(found: Candidate[], replicas: number): number {
  let placed = 0
  for (let i = 0; i < found.length; i++) {
    placed += found[i].room
    if (placed >= replicas) return i + 1
  }
  return 0
}

/** Do the best candidates found hold every replica, each cheaper than any offer not seen yet? */
function enough(found: Candidate[], replicas: number, bound: number): boolean {
  const n = needed(found, replicas)
  return n > 0 && found[n - 1].unit < bound
}

/** Place every replica of `bid` or none. On success the trades and offers are written and it returns true. */
async function fill(ctx: Ctx, bid: Bid, resting: boolean): Promise<boolean> {
  const chosen = candidates(ctx, bid, await ctx.tx.offers())
  if (chosen === null) return false
  const trades: string[] = []
  let replica = 0
  for (const c of chosen) {
    const take = Math.min(c.room, bid.replicas - replica)
    const offer = c.offer
    for (let j = 0; j < take; j++, replica++) {
      const trade: Trade = {
        id: `${bid.id}.${replica}`,
        bid: bid.id,
        replica,
        bot: bid.bot,
        node: offer.node,
        resources: bid.resources,
        price: c.unit,
        duration: bid.duration,
        matchedAt: ctx.now,
        settleBy: ctx.now + ctx.genesis.settlementWindow,
        state: 'matched',
        contract: null,
        manifest: null,
        start: null,
        end: null,
        escrow: 0,
        paid: 0,
        refunded: 0
      }
      putTrade(ctx.tx, null, trade)
      ctx.tx.put(K.due(trade.settleBy + 1, 'release', trade.id), K.MARK)
      trades.push(trade.id)
      ctx.priced.push({ resources: bid.resources, prices: offer.prices })
    }
    putOffer(ctx.tx, offer, {
      ...offer,
      available: subtract(offer.available, scale(bid.resources, take))
    })
  }
  ctx.trades.push(...trades)
  putBid(ctx.tx, resting ? bid : null, { ...bid, state: 'filled', trades })
  return true
}
