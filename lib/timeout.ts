/** Waiting for a promise at most so long, with the timer cleared either way. */
import type Hypercore from 'hypercore'
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

/** `p`'s value, or null when `ms` pass first or `p` rejects: for waits whose failure only means "not yet". */
export async function settleWithin<T>(p: Promise<T>, ms: number): Promise<T | null> {
  const r = await raceTimeout(
    p.catch(() => null),
    ms
  )
  return r === TIMED_OUT ? null : r
}

/**
 * Wait at most `timeout` ms, first for a peer with the core (its channel opens a moment
 * after the connection, and an update without peers returns at once), then for its latest length.
 */
export async function waitForUpdate(core: Hypercore, timeout: number): Promise<void> {
  if (core.peers.length === 0) {
    let added: (() => void) | null = null
    await settleWithin(
      new Promise<void>((resolve) => {
        added = resolve
        core.once('peer-add', resolve)
      }),
      timeout
    )
    if (added !== null) core.off('peer-add', added)
  }
  await settleWithin(core.update({ wait: true }), timeout)
}
