/**
 * Which indexer acks when (market/ledger.ts). Two indexers acking at once are concurrent with each other and with
 * the newest ops: whichever ack the indexers' consensus orders first, the ops placed after it on some peer's tip are
 * undone and run again there (1.0-2.7 engine runs per op in the ledger bench when every indexer acked). So the
 * indexers take turns: the writer of the newest ops and one other indexer, the first acker, ack at once; the rest
 * only once finality stalls. The writer appends its next block once the first acker has seen its last.
 */
import b4a from 'b4a'
import type { ActiveWriter } from 'autobase'

/** An indexer seems gone after this long without a new node (ms): writers stop waiting for it, others ack. */
export const ACKER_GONE = 3000

/** The parts of an Autobase that tell who wrote what. */
export interface Writers {
  readonly local: { readonly key: Buffer }
  readonly activeWriters: Iterable<ActiveWriter>
  readonly linearizer: { readonly indexers: ActiveWriter[] } | null
}

export class AckTurns {
  /** The writer of the newest ops this peer applied. */
  opsWriter: Buffer | null = null
  /** Per indexer (hex key): its length, since when, and whether it has been silent too long (`silent`). */
  private readonly heard = new Map<string, { length: number; at: number; silent: boolean }>()
  /** Since when this peer has had ops not final yet (ms), else 0. */
  private waitingSince = 0

  /** `unfinished`: this peer has ops not final (or not signed) yet. */
  constructor(
    private readonly base: Writers,
    private readonly unfinished: () => boolean
  ) {}

  /** Whether this indexer acks as soon as it caught up: the ops' writer and the first acker do. */
  acksNow(): boolean {
    if (this.writesOps()) return true
    const first = this.firstAcker(this.opsWriter)
    return first === null || b4a.equals(first.core.key, this.base.local.key)
  }

  /** This peer wrote the newest ops it applied (or none yet). */
  writesOps(): boolean {
    return this.opsWriter === null || b4a.equals(this.opsWriter, this.base.local.key)
  }

  /** The ops' writer when this peer is its first acker, else null. */
  writerOfOps(): ActiveWriter | null {
    const ops = this.opsWriter
    if (ops === null || this.writesOps()) return null
    const first = this.firstAcker(ops)
    if (first === null || !b4a.equals(first.core.key, this.base.local.key)) return null
    for (const w of this.base.activeWriters) if (b4a.equals(w.core.key, ops)) return w
    return null
  }

  /**
   * The indexer with the smallest key but `writer`, passing over those silent for ACKER_GONE since `since` (default:
   * since this peer's ops have waited to be final).
   */
  firstAcker(writer: Buffer | null, since?: number): ActiveWriter | null {
    const now = Date.now()
    if (!this.unfinished()) this.waitingSince = 0
    else if (this.waitingSince === 0) this.waitingSince = now
    const local = this.base.local.key
    let first: ActiveWriter | null = null
    for (const w of this.base.linearizer?.indexers ?? []) {
      if (writer !== null && b4a.equals(w.core.key, writer)) continue
      if (!b4a.equals(w.core.key, local) && this.silent(w, now, since ?? this.waitingSince))
        continue
      if (first === null || b4a.compare(w.core.key, first.core.key) < 0) first = w
    }
    return first
  }

  /** Whether `acker`'s newest node has seen this peer's first `length` blocks. */
  saw(acker: ActiveWriter, length: number): boolean {
    const local = this.base.local.key
    const clock = acker.head()?.clock
    if (clock !== undefined && clock !== null) return clock.get(local) >= length
    // A head already indexed has no clock: then only an indexed block of ours counts as seen.
    for (const w of this.base.activeWriters)
      if (b4a.equals(w.core.key, local)) return w.indexed >= length
    return false
  }

  /**
   * Every indexer's block that this peer knows of, or a peer says it has, is linearized here (Autobase acks once
   * the blocks it downloaded are: an ack that misses the newest announced ones is concurrent with them).
   */
  caughtUp(): boolean {
    for (const w of this.base.activeWriters) {
      if (w.length < w.core.length) return false
      for (const p of w.core.peers) if (p.remoteLength > w.length) return false
    }
    return true
  }

  /** Appended nothing for ACKER_GONE since `since`; it stays passed over until it appends again. */
  private silent(w: ActiveWriter, now: number, since: number): boolean {
    const key = b4a.toString(w.core.key, 'hex')
    const heard = this.heard.get(key)
    if (heard === undefined || heard.length !== w.length) {
      this.heard.set(key, { length: w.length, at: now, silent: false })
      return false
    }
    if (!heard.silent && since > 0) heard.silent = now - Math.max(heard.at, since) >= ACKER_GONE
    return heard.silent
  }
}
