/**
 * lib/resources `fits` and `hourlyCost` unrolled by kind for the matching loop, in Numbers while exact
 * and the library's BigInt beyond. A hostile bid must not make them throw.
 */
import { PRICE_UNIT, Resources, Prices, hourlyCost, costFor } from '../../lib/resources'

export function fitsIn(need: Resources, have: Resources): boolean {
  return (
    need.cpu <= have.cpu &&
    need.memory <= have.memory &&
    need.ssd <= have.ssd &&
    need.hdd <= have.hdd &&
    need.ipv4 <= have.ipv4 &&
    need.gpu <= have.gpu
  )
}

/** How many times `need` fits in `have` (need must not be all zero), at most `max`. */
export function times(need: Resources, have: Resources, max: number): number {
  let n = max
  if (need.cpu > 0) n = Math.min(n, Math.floor(have.cpu / need.cpu))
  if (need.memory > 0) n = Math.min(n, Math.floor(have.memory / need.memory))
  if (need.ssd > 0) n = Math.min(n, Math.floor(have.ssd / need.ssd))
  if (need.hdd > 0) n = Math.min(n, Math.floor(have.hdd / need.hdd))
  if (need.ipv4 > 0) n = Math.min(n, Math.floor(have.ipv4 / need.ipv4))
  if (need.gpu > 0) n = Math.min(n, Math.floor(have.gpu / need.gpu))
  return n
}

const U = PRICE_UNIT

/** The hourly cost, or Infinity when it exceeds 2^53: a price nobody can pay, never an exception. */
export function unitCost(a: Resources, p: Prices): number {
  const total =
    part(a.cpu, p.cpu, U.cpu) +
    part(a.memory, p.memory, U.memory) +
    part(a.ssd, p.ssd, U.ssd) +
    part(a.hdd, p.hdd, U.hdd) +
    part(a.ipv4, p.ipv4, U.ipv4) +
    part(a.gpu, p.gpu, U.gpu)
  if (Number.isSafeInteger(total)) return total
  try {
    return hourlyCost(a, p)
  } catch {
    return Infinity
  }
}

/** ceil(amount × price / unit) exactly, or NaN when the product is beyond 2^53 (the caller falls back). */
function part(amount: number, price: number, unit: number): number {
  const x = amount * price
  if (x === 0) return 0
  if (x > Number.MAX_SAFE_INTEGER) return NaN
  let q = Math.floor(x / unit)
  // x / unit is rounded to a double: step q onto the exact integer quotient.
  if (q * unit > x) q--
  else if ((q + 1) * unit <= x) q++
  return q * unit === x ? q : q + 1
}

/** lib/resources costFor (ms at a price per hour, rounded up), exact; throws OVERFLOW like it beyond 2^53. */
export function leaseCost(perHour: number, ms: number): number {
  const q = part(perHour, ms, 3_600_000)
  return Number.isNaN(q) ? costFor(perHour, ms) : q
}
