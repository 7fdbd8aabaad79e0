/**
 * Waiting for ops' outcomes: *applied* once `op/<id>` or `rejected/<id>` is in the view, *final* once it is below
 * the ledger's `finalVersion`. Applied ops arrive as hints from apply, so a waiter costs one lookup, when final.
 * Three rules keep a waiter from being lost in races (test/market-outcomes.test.ts plays each): a look that finds
 * nothing changes nothing; a look settles a final waiter only if its find was below the final length when the read
 * began; a hint is used once the view readers see is as long as the hint says.
 */
import type { Entry } from 'hyperbee'
import { ScitError } from '../lib/errors'
import * as K from './engine/keys'
import { decode, outcomeRecord } from './messages'
import type { Hint } from './types'
import type { Id, Outcome } from './types'
import safetyCatch from 'safety-catch'

interface Reader {
  get(key: string): Promise<Entry | null>
}

/** A snapshot that lists what changed since an older version (Hyperbee's diff stream). */
interface Snapshot {
  createDiffStream(
    version: number,
    range: { gte: string; lt: string }
  ): AsyncIterable<{ left: Entry | null }>
  close(): Promise<void>
}

/** What waiting needs of the ledger (market/ledger.ts): its view, final length and hints. */
export interface OutcomeSource {
  readonly view: Reader & {
    readonly core: { readonly length: number; readonly fork?: number }
    batch(opts: { update: false }): Reader & { close(): Promise<void> }
    checkout?(version: number): Snapshot
  }
  readonly finalVersion: number
  /** A view that only grows (a follower's signed view): what it held once it holds at every later length. */
  readonly appendOnly?: boolean
  takeApplied(): { hints: Hint[]; lookAllAt: number }
  appliedYet(id: Id): boolean
}

/** Past this many waiters, a look at all of them reads what the view gained instead of each one's outcome. */
const FEW = 32

interface Waiter {
  id: Id
  final: boolean
  resolve: (o: Outcome) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

export class Outcomes {
  private waiters = new Map<Id, Set<Waiter>>()
  private applied = new Map<Id, number>()
  /** Hints the readers' view does not show yet (the latest per op). */
  private early = new Map<Id, Hint>()
  private lookAllAt = 0
  /** Waiters to look up once, in the next check (many at once share one read). */
  private readonly fresh = new Set<Id>()
  /** In an append-only view: every waiter not in `fresh` has no outcome in `view` up to `length`. */
  private covered: { view: unknown; length: number } | null = null
  private lastFinal: number
  private checking: Promise<void> | null = null
  private again = false
  private closed = false

  constructor(private readonly ledger: OutcomeSource) {
    this.lastFinal = ledger.finalVersion
  }

  get pending(): number {
    return this.waiters.size
  }

  async wait(id: Id, final: boolean, timeout: number): Promise<Outcome> {
    if (this.closed) throw new ScitError('CLOSED', 'the market client is closed')
    let resolve!: (o: Outcome) => void
    let reject!: (err: Error) => void
    const p = new Promise<Outcome>((res, rej) => {
      resolve = res
      reject = rej
    })
    // p may be rejected before anything awaits it: mark it handled (the `await p` below still throws).
    p.catch(safetyCatch)
    const w: Waiter = {
      id,
      final,
      resolve,
      reject,
      timer: setTimeout(() => {
        this.remove(w)
        reject(
          new ScitError(
            'TIMEOUT',
            `op ${id} has no ${final ? 'final ' : ''}outcome after ${timeout} ms`
          )
        )
      }, timeout)
    }
    // Registered before the first look, so an outcome landing in between is caught by the next check.
    let set = this.waiters.get(id)
    if (set === undefined) this.waiters.set(id, (set = new Set()))
    set.add(w)
    if (this.ledger.appliedYet(id)) {
      // Waits begun in one tick share one check.
      if (this.fresh.size === 0) queueMicrotask(() => this.check())
      this.fresh.add(id)
    }
    return await p
  }

  /** On every ledger update; checks run one at a time, updates during one trigger one more. */
  check(): void {
    if (this.closed) return
    if (this.checking !== null) {
      this.again = true
      return
    }
    this.checking = this.run()
      .catch(safetyCatch)
      .finally(() => {
        this.checking = null
        if (this.again) {
          this.again = false
          this.check()
        }
      })
  }

  close(): void {
    this.closed = true
    for (const set of this.waiters.values()) {
      for (const w of set) {
        clearTimeout(w.timer)
        w.reject(new ScitError('CLOSED', `the market client closed while waiting for op ${w.id}`))
      }
    }
    this.waiters.clear()
  }

  private async run(): Promise<void> {
    const visible = this.ledger.view.core.length
    const finalAtRead = this.ledger.finalVersion
    const reader = this.ledger.view.batch({ update: false })
    try {
      const { hints, lookAllAt } = this.ledger.takeApplied()
      for (const h of hints) this.early.set(h.id, h)
      this.lookAllAt = Math.max(this.lookAllAt, lookAllAt)
      const fresh = [...this.fresh]
      this.fresh.clear()
      try {
        for (const id of fresh) if (this.waiters.has(id)) await this.look(id, reader, finalAtRead)
      } catch (err) {
        for (const id of fresh) this.fail(id, err as Error)
        throw err
      }
      if (this.lookAllAt > 0 && this.lookAllAt <= visible) {
        this.lookAllAt = 0
        await this.lookAll(reader, visible, finalAtRead)
      }
      for (const [id, h] of [...this.early]) {
        if (h.length > visible) continue
        this.early.delete(id)
        if (!this.waiters.has(id)) continue
        // A hint's outcome settles a final waiter only through a look: a reorg since may have moved it.
        if (h.outcome === null || h.length - 1 < finalAtRead)
          await this.look(id, reader, finalAtRead)
        else this.note(id, h.outcome, h.length - 1, finalAtRead)
      }
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
   * Every waiter, in a view `visible` long: one lookup each; or, in an append-only view with many waiters, the
   * outcomes it gained since the last such look, so a bot waiting for thousands of ops reads each new outcome once
   * instead of each waiter on every update.
   */
  private async lookAll(reader: Reader, visible: number, finalAtRead: number): Promise<void> {
    const view = this.ledger.view
    const since = this.covered
    this.covered = this.ledger.appendOnly === true ? { view, length: visible } : null
    const checkout = view.checkout?.bind(view)
    if (
      since === null ||
      since.view !== view ||
      this.waiters.size <= FEW ||
      checkout === undefined
    ) {
      for (const id of [...this.waiters.keys()]) await this.look(id, reader, finalAtRead)
      return
    }
    if (since.length >= visible) return
    const snap = checkout(visible)
    try {
      for (const prefix of [K.ACCEPTED, K.REJECTED]) {
        for await (const { left } of snap.createDiffStream(since.length, K.prefixRange(prefix))) {
          const id = left === null ? '' : left.key.slice(prefix.length)
          if (left !== null && this.waiters.has(id))
            this.note(id, decode(outcomeRecord, left.value), left.seq, finalAtRead)
        }
      }
    } finally {
      await snap.close()
    }
  }

  /** An outcome key is written once, so an entry below the final length is what the final view holds. */
  private async look(
    id: Id,
    reader: Reader | null = null,
    finalAtRead = this.ledger.finalVersion
  ): Promise<void> {
    const entry = await lookup(reader ?? this.ledger.view, id)
    // Not there (yet, or after a reorg): its next hint says when; a newer hint's note must not be undone.
    if (entry === null) return
    this.note(id, decode(outcomeRecord, entry.value), entry.seq, finalAtRead)
  }

  private note(id: Id, outcome: Outcome, seq: number, finalVersion: number): void {
    const final = seq < finalVersion
    this.settle(id, outcome, final)
    if (!final && this.waiters.has(id)) this.applied.set(id, seq)
    else this.applied.delete(id)
  }

  private settle(id: Id, outcome: Outcome, final: boolean): void {
    const set = this.waiters.get(id)
    if (set === undefined) return
    for (const w of [...set]) {
      if (w.final && !final) continue
      this.remove(w)
      w.resolve(outcome)
    }
  }

  private fail(id: Id, err: Error): void {
    for (const w of [...(this.waiters.get(id) ?? [])]) {
      this.remove(w)
      w.reject(err)
    }
  }

  private remove(w: Waiter): void {
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
export async function finalOutcome(ledger: OutcomeSource, id: Id): Promise<Outcome | null> {
  const finalAtRead = ledger.finalVersion // as in look: final when the read began
  const entry = await lookup(ledger.view, id)
  return entry !== null && entry.seq < finalAtRead ? decode(outcomeRecord, entry.value) : null
}

async function lookup(reader: Reader, id: Id): Promise<{ seq: number; value: Buffer } | null> {
  return (await reader.get(K.accepted(id))) ?? (await reader.get(K.rejected(id)))
}
