/** Typed records over the staged view; each writer keeps its index entries in step, so no caller can forget one. */
import * as K from './keys'
import { offerRecord, bidRecord, tradeRecord, uintRecord } from '../messages'
import type { Offer, Bid, Trade, KeyText, Id } from '../types'
import type { Tx } from './tx'
import { reject } from './context'

/** An offer is for sale until withdrawn, and, in a market with an offer TTL (ms, 0: none), while its node keeps renewing it. */
export function forSale(o: Offer, offerTtl: number, now: number): boolean {
  return !o.withdrawn && (offerTtl === 0 || o.renewed + offerTtl >= now)
}

export function getOffer(tx: Tx, node: KeyText): Promise<Offer | null> {
  return tx.read(offerRecord, K.offer(node))
}

export function putOffer(tx: Tx, prev: Offer | null, next: Offer): void {
  if (prev === null || prev.country !== next.country) {
    if (prev !== null) tx.del(K.offerByCountry(prev.country, prev.node))
    tx.put(K.offerByCountry(next.country, next.node), K.MARK)
  }
  const was = prev === null ? -1 : K.headlinePrice(prev.prices)
  const now = K.headlinePrice(next.prices)
  if (was !== now) {
    if (prev !== null) tx.del(K.offerByPrice(was, prev.node))
    tx.put(K.offerByPrice(now, next.node), K.MARK)
  }
  tx.write(offerRecord, K.offer(next.node), next)
}

export function getBid(tx: Tx, id: Id): Promise<Bid | null> {
  return tx.read(bidRecord, K.bid(id))
}

/** Write a bid; an open bid is in the book, any other state is not. */
export function putBid(tx: Tx, prev: Bid | null, next: Bid): void {
  const book = K.bidBook(next.maxPrice, next.time, next.id)
  if (prev === null) {
    tx.put(K.bidByBot(next.bot, next.time, next.id), K.MARK)
    if (next.state === 'open') {
      tx.put(book, K.MARK)
      tx.put(K.due(next.expiry + 1, 'expire', next.id), K.MARK)
    }
  } else if (prev.state === 'open' && next.state !== 'open') {
    tx.del(book) // its expiry deadline stays: expiring a bid that is no longer open does nothing
  }
  tx.write(bidRecord, K.bid(next.id), next)
}

export function getTrade(tx: Tx, id: Id): Promise<Trade | null> {
  return tx.read(tradeRecord, K.trade(id))
}

/** A trade is live while matched or settled; once it has ended it is history, out of the live index. */
export function isLive(t: Trade): boolean {
  return t.state === 'matched' || t.state === 'settled'
}

export function putTrade(tx: Tx, prev: Trade | null, next: Trade): void {
  if (prev === null) {
    tx.put(K.tradeByNode(next.node, next.matchedAt, next.id), K.MARK)
    tx.put(K.tradeByBot(next.bot, next.matchedAt, next.id), K.MARK)
    tx.put(K.tradeLive(next.id), K.MARK)
  } else if (isLive(prev) && !isLive(next)) tx.del(K.tradeLive(next.id))
  tx.write(tradeRecord, K.trade(next.id), next)
}

export async function getBalance(tx: Tx, key: KeyText): Promise<number> {
  const buf = await tx.get(K.balance(key))
  return buf === null ? 0 : uintRecord.decode({ start: 0, end: buf.byteLength, buffer: buf })
}

export function setBalance(tx: Tx, key: KeyText, amount: number): void {
  if (!Number.isSafeInteger(amount) || amount < 0)
    reject('overflow', `balance of ${key} would be ${amount}`)
  if (amount === 0) tx.del(K.balance(key))
  else tx.write(uintRecord, K.balance(key), amount)
}

export async function credit(tx: Tx, key: KeyText, amount: number): Promise<void> {
  if (amount === 0) return
  setBalance(tx, key, (await getBalance(tx, key)) + amount)
}
