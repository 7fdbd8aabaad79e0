/**
 * Waiting for ops' outcomes. An outcome is *applied* once `op/<id>` or
 * `rejected/<id>` is in the view, and *final* once it is in the part of the
 * view a quorum of indexers signed (that part never changes again).
 *
 * Thousands of ops may be awaited at once (a bot's bids), so nothing here
 * re-reads every waiter on every update: applied ids come as hints from the
 * ledger's apply, each looked up once in the live view (its cache is warm),
 * and an awaited op applied but not final yet is remembered with the view
 * block that holds its outcome; when the final length passes that block, it
 * is looked up again and settled. A reorg that moves an outcome re-applies
 * its op, which hints it again, so the block remembered is the current one.
 * (A diff between two checkouts of the view did this before: every checkout
 * starts with a cold node cache, which made it most of a busy bot's reads.)
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
  /** Awaited ops applied but not final: the view block that holds each one's outcome. */
  private applied = new Map<Id, number>()
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
      await this.look(id)
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
    for (const id of hints ?? [...this.waiters.keys()]) {
      if (this.waiters.has(id)) await this.look(id)
    }
    const version = this.ledger.finalVersion
    if (version <= this.lastFinal) return
    this.lastFinal = version
    for (const [id, seq] of [...this.applied]) {
      if (seq < version && this.waiters.has(id)) await this.look(id)
    }
  }

  /**
   * Look an awaited op up in the live view: settle what its waiters can have,
   * and remember it while it is applied but not final. An outcome key is
   * written once, so an entry in a block below the final length is exactly
   * what the final view holds.
   */
  private async look (id: Id): Promise<void> {
    const entry = await lookup(this.ledger.view, id)
    if (entry === null) {
      this.applied.delete(id)
      return
    }
    const final = entry.seq < this.ledger.finalVersion
    this.settle(id, decode(outcomeRecord, entry.value), final)
    if (!final && this.waiters.has(id)) this.applied.set(id, entry.seq)
    else this.applied.delete(id)
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
    if (set.size === 0) {
      this.waiters.delete(w.id)
      this.applied.delete(w.id)
    }
  }
}

/** The op's outcome if it is final (see Outcomes.look), else null. */
export async function finalOutcome (ledger: Ledger, id: Id): Promise<Outcome | null> {
  const entry = await lookup(ledger.view, id)
  return entry !== null && entry.seq < ledger.finalVersion ? decode(outcomeRecord, entry.value) : null
}

async function lookup (bee: Hyperbee, id: Id): Promise<{ seq: number, value: Buffer } | null> {
  return (await bee.get(K.accepted(id))) ?? (await bee.get(K.rejected(id)))
}
