/** Key-range helpers shared by the in-memory views. Keys compare as JS strings (ASCII: byte order). */
import type { RangeOptions } from './types'

/** Limit and reverse aside. */
export function inRange(k: string, o: RangeOptions): boolean {
  if (o.gt !== undefined && !(k > o.gt)) return false
  if (o.gte !== undefined && !(k >= o.gte)) return false
  if (o.lt !== undefined && !(k < o.lt)) return false
  if (o.lte !== undefined && !(k <= o.lte)) return false
  return true
}

export function lowerBound<T extends string | number>(arr: readonly T[], key: T): number {
  let lo = 0
  let hi = arr.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (arr[mid] < key) lo = mid + 1
    else hi = mid
  }
  return lo
}
