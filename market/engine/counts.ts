/**
 * The running totals `stats` reads (`meta/counts`), kept by diffing an accepted op's writes against
 * the view before it: no handler has to remember to count.
 */
import * as K from './keys'
import {
  decode,
  offerRecord,
  tradeRecord,
  uintRecord,
  countsRecord,
  Counts,
  TRADE_STATES
} from '../messages'
import type { Tx } from './tx'
import type { Offer, Trade } from '../types'
import { costFor, RESOURCE_KINDS, ZERO } from '../../lib/resources'

export function emptyCounts(): Counts {
  return {
    accepted: 0,
    rejected: 0,
    offers: 0,
    openBids: 0,
    balances: 0,
    escrow: 0,
    trades: TRADE_STATES.map(() => 0),
    settled: 0,
    value: 0,
    paid: 0,
    refunded: 0,
    capacity: { ...ZERO },
    free: { ...ZERO }
  }
}

/** A copy the caller may change (the decoded record is shared, engine/decoded.ts). */
export async function readCounts(tx: Tx): Promise<Counts> {
  const c = await tx.read(countsRecord, K.META_COUNTS)
  if (c === null) return emptyCounts()
  return { ...c, trades: c.trades.slice(), capacity: { ...c.capacity }, free: { ...c.free } }
}

/** Add what the op staged in `tx` changes to `counts`. Call before `tx.commit()`. */
export async function countChanges(tx: Tx, counts: Counts): Promise<void> {
  for (const [key, now] of tx.staged()) {
    const kind = key.slice(0, key.indexOf('/') + 1)
    if (
      kind !== 'offer/' &&
      kind !== 'trade/' &&
      kind !== 'balance/' &&
      !key.startsWith('ix/bid-book/')
    )
      continue
    const before = await tx.view.get(key)
    if (kind === 'offer/') {
      offer(counts, before && tx.decode(offerRecord, before), -1)
      offer(counts, now && tx.decode(offerRecord, now), 1)
    } else if (kind === 'balance/') counts.balances += uint(now) - uint(before)
    else if (kind === 'trade/') {
      trade(counts, before && tx.decode(tradeRecord, before), -1)
      trade(counts, now && tx.decode(tradeRecord, now), 1)
    } else counts.openBids += (now === null ? 0 : 1) - (before === null ? 0 : 1)
  }
}

/** Offers not withdrawn count, with their capacity (a lapsed one too: the engine has no clock to see it lapse). */
function offer(counts: Counts, o: Offer | null, sign: 1 | -1): void {
  if (o === null || o.withdrawn) return
  counts.offers += sign
  for (const k of RESOURCE_KINDS) {
    counts.capacity[k] = capped(counts.capacity[k] + sign * o.resources[k])
    counts.free[k] = capped(counts.free[k] + sign * o.available[k])
  }
}

/**
 * Offers' bytes add up past 2^53 (8 PiB: 8,192 offers of 1 TiB of disk), more than a record's uint holds, and the
 * write would throw inside Autobase's apply on every indexer, stopping the market for good: a total stays within
 * [0, 2^53 - 1], a gauge that reads "at least" past that.
 */
export function capped(n: number): number {
  return Math.min(Math.max(n, 0), Number.MAX_SAFE_INTEGER)
}

function uint(buf: Buffer | null): number {
  return buf === null ? 0 : decode(uintRecord, buf)
}

function trade(counts: Counts, t: Trade | null, sign: 1 | -1): void {
  if (t === null) return
  counts.escrow += sign * t.escrow
  counts.trades[TRADE_STATES.indexOf(t.state)] += sign
  counts.paid += sign * t.paid
  counts.refunded += sign * t.refunded
  if (t.start === null) return // never settled: no money moved
  counts.settled += sign
  counts.value += sign * costFor(t.price, t.duration)
}
