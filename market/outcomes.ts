/**
 * Waiting for ops' outcomes. An outcome is *applied* once `op/<id>` or
 * `rejected/<id>` is in the view, and *final* once it is in the part of the
 * view a quorum of indexers signed (that part never changes again).
 *
 * Thousands of ops may be awaited at once (a bot's bids), so nothing here
 * re-reads every waiter on every update: applied ids come as hints from the
 * ledger's apply, and newly final ones from a diff between two signed
 * versions of the view, which costs what changed, not what is awaited.
 */
import type Hyperbee from 'hyperbee'
import { ScitError } from '../lib/errors'
import * as K from './engine/keys'
import { decode, outcomeRecord } from './messages'
import type { Ledger } from './ledger'
import type { Id, Outcome } from './types'

interface Waiter {
  id: Id
  final: boolean
  resolve: (o: Outcome) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

export class Outcomes {
  private waiters = new Map<Id, Set<Waiter>>()
  private lastFinal: number
  private checking: Promise<void> | null = null
  private again = false
  private closed = false

  constructor (private readonly ledger: Ledger) {
    this.lastFinal = ledger.finalVersion
  }

  get pending (): number { return this.waiters.size }

  async wait (id: Id, final: boolean, timeout: number): Promise<Outcome> {
    if (this.closed) throw new ScitError('CLOSED', 'the market client is closed')
    let resolve!: (o: Outcome) => void
    let reject!: (err: Error) => void
    const p = new Promise<Outcome>((res, rej) => { resolve = res; reject = rej })
    // close() or the timer may reject p while the first look below is still awaited, before
    // anything awaits p: mark it handled now (the `await p` below still throws).
    p.catch(() => {})
    const w: Waiter = {
      id,
      final,
      resolve,
      reject,
      timer: setTimeout(() => {
        this.remove(w)
        reject(new ScitError('TIMEOUT', `op ${id} has no ${final ? 'final ' : ''}outcome after ${timeout} ms`))
      }, timeout)
    }
    // Registered before the first look, so that an outcome landing in between is caught by the next check.
    let set = this.waiters.get(id)
    if (set === undefined) this.waiters.set(id, set = new Set())
    set.add(w)
    try {
      const found = final ? await this.readFinal(id) : await read(this.ledger.view, id)
      if (found !== null) this.settle(id, found, final)
    } catch (err) {
      this.remove(w)
      throw err
    }
    return await p
  }

  /** Called on every ledger update. Checks run one at a time; updates during a check trigger one more. */
  check (): void {
    if (this.closed) return
    if (this.checking !== null) { this.again = true; return }
    this.checking = this.run().catch(() => {}).finally(() => {
      this.checking = null
      if (this.again) { this.again = false; this.check() }
    })
  }

  close (): void {
    this.closed = true
    for (const set of this.waiters.values()) {
      for (const w of set) {
        clearTimeout(w.timer)
        w.reject(new ScitError('CLOSED', `the market client closed while waiting for op ${w.id}`))
      }
    }
    this.waiters.clear()
  }

  private async run (): Promise<void> {
    const hints = this.ledger.takeApplied()
    for (const id of hints) {
      const set = this.waiters.get(id)
      if (set === undefined || ![...set].some(w => !w.final)) continue
      const o = await read(this.ledger.view, id)
      if (o !== null) this.settle(id, o, false)
    }
    const version = this.ledger.finalVersion
    if (version <= this.lastFinal) return
    const from = this.lastFinal
    this.lastFinal = version
    if (this.waiters.size === 0) return
    const snap = this.ledger.view.checkout(version)
    try {
      for (const prefix of ['op/', 'rejected/']) {
        for await (const { left } of snap.createDiffStream(Math.max(1, from), K.prefixRange(prefix))) {
          if (left === null || !this.waiters.has(K.tail(left.key))) continue
          this.settle(K.tail(left.key), decode(outcomeRecord, left.value), true)
        }
      }
    } finally {
      await snap.close()
    }
  }

  /**
   * The outcome if it is final, read on the live view: a checkout per waiter
   * would start with a cold node cache (a dozen block reads each). An outcome
   * key is written once, so an entry in a block below the signed length is
   * exactly what the signed view holds.
   */
  private readFinal (id: Id): Promise<Outcome | null> {
    return finalOutcome(this.ledger, id)
  }

  /** A final outcome settles every waiter; an applied one only those not asking for final. */
  private settle (id: Id, outcome: Outcome, final: boolean): void {
    const set = this.waiters.get(id)
    if (set === undefined) return
    for (const w of [...set]) {
      if (w.final && !final) continue
      this.remove(w)
      w.resolve(outcome)
    }
  }

  private remove (w: Waiter): void {
    clearTimeout(w.timer)
    const set = this.waiters.get(w.id)
    if (set === undefined) return
    set.delete(w)
    if (set.size === 0) this.waiters.delete(w.id)
  }
}

/** The op's outcome if it is final (see Outcomes.readFinal), else null. */
export async function finalOutcome (ledger: Ledger, id: Id): Promise<Outcome | null> {
  const entry = await lookup(ledger.view, id)
  return entry !== null && entry.seq < ledger.finalVersion ? decode(outcomeRecord, entry.value) : null
}

async function lookup (bee: Hyperbee, id: Id): Promise<{ seq: number, value: Buffer } | null> {
  return (await bee.get(K.accepted(id))) ?? (await bee.get(K.rejected(id)))
}

async function read (bee: Hyperbee, id: Id): Promise<Outcome | null> {
  const entry = await lookup(bee, id)
  return entry === null ? null : decode(outcomeRecord, entry.value)
}
