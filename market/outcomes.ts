/**
 * Waiting for ops' outcomes. An outcome is *applied* once `op/<id>` or
 * `rejected/<id>` is in the view, and *final* once it is in the part of the
 * view whose order the indexers fixed (the ledger's `finalVersion`: that part
 * never changes again).
 *
 * Thousands of ops may be awaited at once (a bot's bids), so nothing here
 * re-reads every waiter on every update: applied ops come as hints from the
 * ledger's apply, with their outcome and a view length that holds it. An
 * awaited op applied but not final yet is remembered with that length; when
 * the final length passes it, the op is looked up in the view and settled.
 * A reorg that moves an outcome re-applies its op, which hints it again, so
 * the length remembered is the current one. An op this peer appended is
 * not looked up when a wait starts: its hint is still to come. So an op
 * costs its waiter one B-tree lookup, when it is final. (A diff between two
 * checkouts of the view did this before: every checkout starts with a cold
 * node cache, which made it most of a busy bot's reads.)
 *
 * Three rules keep a waiter from being lost while reads, applies and the
 * final length race (test/market-outcomes.test.ts plays each): a look that
 * finds nothing changes nothing (it may have begun before a hint it ends
 * after); a look settles a final waiter only if what it found was below the
 * final length when the read began; a hint is used once the view readers
 * see is as long as the hint says (apply runs ahead of that view).
 */
import type { Entry } from 'hyperbee'
import { ScitError } from '../lib/errors'
import * as K from './engine/keys'
import { decode, outcomeRecord } from './messages'
import type { Hint } from './types'
import type { Id, Outcome } from './types'
import safetyCatch from 'safety-catch'

interface Reader { get (key: string): Promise<Entry | null> }

/** What waiting needs of the ledger (market/ledger.ts): its view, final length and hints. */
export interface OutcomeSource {
  readonly view: Reader & { readonly core: { readonly length: number }, batch (opts: { update: false }): Reader & { close (): Promise<void> } }
  readonly finalVersion: number
  takeApplied (): { hints: Hint[], lookAllAt: number }
  appliedYet (id: Id): boolean
}

interface Waiter {
  id: Id
  final: boolean
  resolve: (o: Outcome) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

export class Outcomes {
  private waiters = new Map<Id, Set<Waiter>>()
  /** Awaited ops applied but not final: a view length that holds each one's outcome. */
  private applied = new Map<Id, number>()
  /** Hints of apply calls the readers' view does not show yet (the latest per op), and a pending look at every waiter. */
  private early = new Map<Id, Hint>()
  private lookAllAt = 0
  private lastFinal: number
  private checking: Promise<void> | null = null
  private again = false
  private closed = false

  constructor (private readonly ledger: OutcomeSource) {
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
    p.catch(safetyCatch)
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
      if (this.ledger.appliedYet(id)) await this.look(id)
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
    this.checking = this.run().catch(safetyCatch).finally(() => {
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
    // One read batch (one snapshot session) for every look of this run: a bee.get opens and closes one per call.
    const visible = this.ledger.view.core.length
    const finalAtRead = this.ledger.finalVersion
    const reader = this.ledger.view.batch({ update: false })
    try {
      const { hints, lookAllAt } = this.ledger.takeApplied()
      for (const h of hints) this.early.set(h.id, h)
      this.lookAllAt = Math.max(this.lookAllAt, lookAllAt)
      if (this.lookAllAt > 0 && this.lookAllAt <= visible) {
        this.lookAllAt = 0
        for (const id of [...this.waiters.keys()]) await this.look(id, reader, finalAtRead)
      }
      // Hints wait until the view readers see holds them: a look before would find nothing, and not come again.
      for (const [id, h] of [...this.early]) {
        if (h.length > visible) continue
        this.early.delete(id)
        if (!this.waiters.has(id)) continue
        // A hint's outcome settles a final waiter only through a look: a reorg since may have moved it.
        if (h.outcome === null || h.length - 1 < finalAtRead) await this.look(id, reader, finalAtRead)
        else this.note(id, h.outcome, h.length - 1, finalAtRead)
      }
      // A final length that moved during this run is the next run's: the update that moved it asked for one.
      if (finalAtRead <= this.lastFinal) return
      this.lastFinal = finalAtRead
      for (const [id, seq] of [...this.applied]) {
        if (seq < finalAtRead && this.waiters.has(id)) await this.look(id, reader, finalAtRead)
      }
    } finally {
      await reader.close()
    }
  }

  /**
   * Look an awaited op up in the live view: settle what its waiters can have,
   * and remember it while it is applied but not final. An outcome key is
   * written once, so an entry in a block below the final length is exactly
   * what the final view holds.
   */
  private async look (id: Id, reader: Reader | null = null, finalAtRead = this.ledger.finalVersion): Promise<void> {
    // Final means below the final length when the read began: a reorg during the read may move what it found.
    const entry = await lookup(reader ?? this.ledger.view, id)
    // Not there (yet, or any more after a reorg): its next hint says when it is. A look that
    // found nothing must not undo what a newer hint noted while it ran (that lost waiters).
    if (entry === null) return
    this.note(id, decode(outcomeRecord, entry.value), entry.seq, finalAtRead)
  }

  /** An outcome applied in the view block `seq` or below: settle who can have it, remember it if not final. */
  private note (id: Id, outcome: Outcome, seq: number, finalVersion: number): void {
    const final = seq < finalVersion
    this.settle(id, outcome, final)
    if (!final && this.waiters.has(id)) this.applied.set(id, seq)
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
export async function finalOutcome (ledger: OutcomeSource, id: Id): Promise<Outcome | null> {
  const finalAtRead = ledger.finalVersion // as in look: final when the read began
  const entry = await lookup(ledger.view, id)
  return entry !== null && entry.seq < finalAtRead ? decode(outcomeRecord, entry.value) : null
}

async function lookup (reader: Reader, id: Id): Promise<{ seq: number, value: Buffer } | null> {
  return (await reader.get(K.accepted(id))) ?? (await reader.get(K.rejected(id)))
}
