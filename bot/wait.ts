/**
 * Waiting on the market: re-check on every view update, and on the bot's clock only
 * where the market cannot tell (a quiet market never advances engine time past an expiry).
 */
import { ScitError } from '../lib/errors'
import type { MarketClient } from '../market/types'

export interface UntilOptions {
  /** Wall-clock ms: give up (resolve false) once it passes. */
  deadline?: number
  signal?: AbortSignal
  /** ms; for conditions that depend on more than the view. */
  poll?: number
}

/** Resolve true once `fn` holds, false at the deadline; reject when `signal` aborts. */
export function until(
  client: MarketClient,
  fn: () => Promise<boolean>,
  opts: UntilOptions = {}
): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    let busy = false
    let again = false
    let done = false
    const timers: NodeJS.Timeout[] = []
    const finish = (err: Error | null, v = false): void => {
      if (done) return
      done = true
      client.off('update', check)
      for (const t of timers) {
        clearTimeout(t)
        clearInterval(t)
      }
      opts.signal?.removeEventListener('abort', onabort)
      if (err) reject(err)
      else resolve(v)
    }
    const check = (): void => {
      if (done) return
      if (busy) {
        again = true
        return
      }
      busy = true
      fn().then(
        (ok) => {
          busy = false
          if (ok) return finish(null, true)
          if (again) {
            again = false
            check()
          }
        },
        (err) => finish(err as Error)
      )
    }
    const onabort = (): void => finish(new ScitError('CLOSED', 'the bot is closing'))
    if (opts.signal?.aborted) return onabort()
    opts.signal?.addEventListener('abort', onabort)
    if (opts.deadline !== undefined)
      timers.push(setTimeout(() => finish(null, false), Math.max(0, opts.deadline - Date.now())))
    if (opts.poll !== undefined) timers.push(setInterval(check, opts.poll))
    client.on('update', check)
    check()
  })
}

/** A pause that ends early (rejecting) when the bot closes. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ScitError('CLOSED', 'the bot is closing'))
    const onabort = (): void => {
      clearTimeout(timer)
      reject(new ScitError('CLOSED', 'the bot is closing'))
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onabort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onabort, { once: true })
  })
}
