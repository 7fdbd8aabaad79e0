/** Waiting for a promise at most so long, with the timer cleared either way. */
import { ScitError } from './errors'

export const TIMED_OUT: unique symbol = Symbol('timed out')

/** `p`'s value, or TIMED_OUT when `ms` pass first. A rejection of `p` passes through. */
export function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | null = null
  const late = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms)
  })
  return Promise.race([p, late]).finally(() => {
    if (timer !== null) clearTimeout(timer)
  })
}

/** `p`'s value, or a TIMEOUT error saying `what` did not happen within `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  const r = await raceTimeout(p, ms)
  if (r === TIMED_OUT) throw new ScitError('TIMEOUT', `${what} within ${ms} ms`)
  return r
}
