/**
 * History the charts read (`hist/…`, keys.ts), kept as ops are applied so a chart costs O(buckets) whatever the
 * market's age: trade flows and matched unit prices per minute and per hour, the running totals at the end of each
 * hour an op fell in, and the hours in which each node renewed its offer. Every figure comes from the op's own
 * writes and signed time, so it is as deterministic as the rest of the view. At most four records per op.
 */
import { RESOURCE_KINDS, Resources, Prices } from '../../lib/resources'
import * as K from './keys'
import {
  offerRecord,
  tradeRecord,
  flowsRecord,
  gaugesRecord,
  Counts,
  Flows,
  PricePoints,
  TRADE_STATES
} from '../messages'
import { costFor } from '../../lib/resources'
import type { Tx } from './tx'

/** What a match priced: the replica's resources at the offer's unit prices then (engine/book.ts fill). */
export interface Priced {
  resources: Resources
  prices: Prices
}

/** Call with the running totals as they were before this op, and before `tx.commit()`. */
export async function recordHistory(
  tx: Tx,
  before: Counts,
  since: number,
  now: number,
  matched: Priced[]
): Promise<void> {
  const hour = K.bucketOf('hour', since)
  if (since > 0 && K.bucketOf('hour', now) > hour)
    tx.write(gaugesRecord, K.gauges(hour), {
      offers: before.offers,
      leases: before.trades[TRADE_STATES.indexOf('settled')],
      capacity: before.capacity,
      free: before.free
    })
  let settled = 0
  let value = 0
  for (const [key, buf] of tx.staged()) {
    if (buf === null) continue
    if (key.startsWith(K.OFFERS)) await renewed(tx, key, buf, now)
    else if (key.startsWith('trade/')) {
      const t = tx.decode(tradeRecord, buf)
      if (t.start !== now || t.state !== 'settled') continue
      const was = await tx.view.get(key)
      if (was !== null && tx.decode(tradeRecord, was).start !== null) continue
      settled++
      value += costFor(t.price, t.duration)
    }
  }
  if (matched.length === 0 && settled === 0) return
  for (const res of ['minute', 'hour'] as const) {
    const key = K.flows(res, K.bucketOf(res, now))
    const was = await tx.read(flowsRecord, key)
    const f = was === null ? emptyFlows() : copyFlows(was)
    f.matched += matched.length
    f.settled += settled
    f.value += value
    for (const m of matched)
      RESOURCE_KINDS.forEach((k, i) => {
        if (m.resources[k] > 0) addPrice(f.prices[i], m.prices[k])
      })
    tx.write(flowsRecord, key, f)
  }
}

/** A node's first renewal in an hour marks that hour (its later ones that hour write nothing). */
async function renewed(tx: Tx, key: string, buf: Buffer, now: number): Promise<void> {
  const o = tx.decode(offerRecord, buf)
  if (o.renewed !== now || o.withdrawn) return
  const was = await tx.view.get(key)
  const prev = was === null ? null : tx.decode(offerRecord, was)
  if (
    prev !== null &&
    !prev.withdrawn &&
    K.bucketOf('hour', prev.renewed) === K.bucketOf('hour', now)
  )
    return
  tx.put(K.renewal(o.node, K.bucketOf('hour', now)), K.MARK)
}

/** The decoded record is shared (engine/decoded.ts): change a copy. */
function copyFlows(f: Flows): Flows {
  return {
    ...f,
    prices: f.prices.map((p) => ({ ...p, points: p.points.map(([x, n]) => [x, n]) }))
  }
}

export function emptyFlows(): Flows {
  return {
    matched: 0,
    settled: 0,
    value: 0,
    prices: RESOURCE_KINDS.map(() => ({ count: 0, min: 0, max: 0, points: [] }))
  }
}

/** 8 significant bits: exact up to 255, within 0.4 % above, so a bucket holds a few hundred points at most. */
export function roundPrice(p: number): number {
  if (p < 256) return p
  let scale = 1
  while (p / scale >= 256) scale *= 2
  return Math.floor(p / scale) * scale
}

export function addPrice(s: PricePoints, price: number, n = 1): void {
  s.min = s.count === 0 ? price : Math.min(s.min, price)
  s.max = s.count === 0 ? price : Math.max(s.max, price)
  s.count += n
  const p = roundPrice(price)
  let i = 0
  while (i < s.points.length && s.points[i][0] < p) i++
  if (i < s.points.length && s.points[i][0] === p) s.points[i][1] += n
  else s.points.splice(i, 0, [p, n])
}
