/** Numbered requests with timers on one protomux channel, shared so no protocol leaks a timer or a waiting caller. */
import { ScitError } from './errors'

interface Waiting {
  resolve: (v: unknown) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

export class Requests {
  private readonly waiting = new Map<number, Waiting>()
  private nextId = 1

  /** Send a request numbered for its answer; resolves with `settle`'s value, rejects TIMEOUT after `timeout` ms. */
  request<T>(send: (id: number) => void, timeout: number, what: string): Promise<T> {
    const id = this.nextId++
    const result = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id)
        reject(new ScitError('TIMEOUT', `${what} did not answer within ${timeout} ms`))
      }, timeout)
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, timer })
    })
    send(id)
    return result
  }

  /** An unknown or late id is ignored. */
  settle(id: number, value: unknown): void {
    this.take(id)?.resolve(value)
  }

  /** Stop waiting for `id` now (a caller gave up): its caller and what it holds are let go, not kept until the timeout; a late answer is ignored. */
  fail(id: number, err: Error): void {
    this.take(id)?.reject(err)
  }

  failAll(why: string): void {
    for (const id of [...this.waiting.keys()]) this.fail(id, new ScitError('CLOSED', why))
  }

  private take(id: number): Waiting | undefined {
    const w = this.waiting.get(id)
    if (w === undefined) return undefined
    this.waiting.delete(id)
    clearTimeout(w.timer)
    return w
  }
}
