/** Read side of the view's history (engine/history.ts): each answer is a range read over a few small records. */
import { RESOURCE_KINDS, ResourceKind } from '../lib/resources'
import * as K from './engine/keys'
import { emptyFlows, addPrice } from './engine/history'
import {
  decode,
  flowsRecord,
  gaugesRecord,
  countsRecord,
  Flows,
  Gauges,
  PricePoints,
  TRADE_STATES
} from './messages'
import { engineTime } from './queries'
import type { View } from './types'

export interface FlowBucket extends Flows {
  start: number
}

/** Buckets of `res` that start in [from, to), oldest first; a bucket with no trade is not there. */
export async function tradeFlows(
  view: View,
  res: K.Resolution,
  from: number,
  to: number
): Promise<FlowBucket[]> {
  const out: FlowBucket[] = []
  for await (const { key, value } of view.range({
    gte: K.flows(res, Math.max(0, from)),
    lt: K.flows(res, Math.max(0, to))
  }))
    out.push({ start: Number(K.tail(key)), ...decode(flowsRecord, value) })
  return out
}

export function mergeFlows(buckets: Flows[]): Flows {
  const out = emptyFlows()
  for (const b of buckets) {
    out.matched += b.matched
    out.settled += b.settled
    out.value += b.value
    b.prices.forEach((p, i) => {
      if (p.count === 0) return
      const into = out.prices[i]
      const { min, max } = into
      const had = into.count
      for (const [price, n] of p.points) addPrice(into, price, n)
      // the points are rounded: keep the exact extremes
      into.min = had === 0 ? p.min : Math.min(min, p.min)
      into.max = had === 0 ? p.max : Math.max(max, p.max)
    })
  }
  return out
}

export interface PriceSummary {
  trades: number
  min: number
  median: number
  max: number
}

/** null: no trade bought that kind. The median is the lower one of an even count. */
export function summarize(p: PricePoints): PriceSummary | null {
  if (p.count === 0) return null
  const half = Math.ceil(p.count / 2)
  let seen = 0
  let median = p.max
  for (const [price, n] of p.points) {
    seen += n
    if (seen >= half) {
      median = price
      break
    }
  }
  // a rounded median never leaves the exact range
  return {
    trades: p.count,
    min: p.min,
    median: Math.min(p.max, Math.max(p.min, median)),
    max: p.max
  }
}

export function priceSummaries(f: Flows): Partial<Record<ResourceKind, PriceSummary>> {
  const out: Partial<Record<ResourceKind, PriceSummary>> = {}
  RESOURCE_KINDS.forEach((k, i) => {
    const s = summarize(f.prices[i])
    if (s !== null) out[k] = s
  })
  return out
}

/**
 * The market's gauges as the hour of `time` began: the last hour before it in which an op was applied left them
 * (null: the market had not begun). Reads one record.
 */
export async function gaugesAt(view: View, time: number): Promise<Gauges | null> {
  const hour = K.bucketOf('hour', time)
  if ((await engineTime(view)) < hour) return current(view)
  for await (const { value } of view.range({
    gte: K.GAUGES,
    lt: K.gauges(hour),
    reverse: true,
    limit: 1
  }))
    return decode(gaugesRecord, value)
  return null
}

async function current(view: View): Promise<Gauges | null> {
  const buf = await view.get(K.META_COUNTS)
  if (buf === null) return null
  const c = decode(countsRecord, buf)
  return {
    offers: c.offers,
    leases: c.trades[TRADE_STATES.indexOf('settled')],
    capacity: c.capacity,
    free: c.free
  }
}

/** The hours in [from, to) in which `node` renewed its offer (a signed op of the node, final in the ledger). */
export async function renewals(
  view: View,
  node: string,
  from: number,
  to: number
): Promise<number[]> {
  const out: number[] = []
  for await (const { key } of view.range({
    gte: K.renewal(node, Math.max(0, K.bucketOf('hour', from))),
    lt: K.renewal(node, Math.max(0, to))
  }))
    out.push(Number(K.tail(key)))
  return out
}
