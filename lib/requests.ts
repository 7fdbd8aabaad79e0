/**
 * Requests awaiting an answer on one protomux channel: each gets a number
 * the answer echoes, and a timer. The channel protocols (bot approvals, the
 * node protocol, the market relay) share this, so none of them can leak a
 * timer or leave a caller waiting on a closed channel.
 */
import { ScitError } from './errors'

interface Waiting { resolve: (v: unknown) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }

export class Requests {
  private readonly waiting = new Map<number, Waiting>()
  private nextId = 1

  /** Send a request numbered for its answer; resolves with `settle`'s value, rejects TIMEOUT after `timeout` ms. */
  request<T> (send: (id: number) => void, timeout: number, what: string): Promise<T> {
    const id = this.nextId++
    const result = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting.delete(id); reject(new ScitError('TIMEOUT', `${what} did not answer within ${timeout} ms`)) }, timeout)
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, timer })
    })
    send(id)
    return result
  }

  /** The answer to request `id` (an unknown or late one is ignored). */
  settle (id: number, value: unknown): void {
    const w = this.waiting.get(id)
    if (w === undefined) return
    this.waiting.delete(id)
    clearTimeout(w.timer)
    w.resolve(value)
  }

  /** Reject every request still waiting (the channel closed). */
  failAll (why: string): void {
    for (const [id, w] of this.waiting) {
      this.waiting.delete(id)
      clearTimeout(w.timer)
      w.reject(new ScitError('CLOSED', why))
    }
  }
}
