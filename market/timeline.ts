/**
 * Where an op's time goes on its way to final on one peer, and what the ledger's stages cost: for benches
 * (test/bench/ledger.ts), off unless a peer is opened with `timeline: true`.
 */
import type { Id } from './types'

/** In order: a relay took the request, its signatures checked, its append began, first applied, final, signed. */
export const STAGES = ['received', 'queued', 'appending', 'applied', 'final', 'signed'] as const
export type Stage = (typeof STAGES)[number]

export class Timeline {
  /** Per op, the ms (Date.now(), comparable across processes of one machine) it first reached each stage. */
  readonly ops = new Map<Id, number[]>()
  /** Per stage: how many times, and µs spent (apply, engine, append, …). */
  readonly costs: Record<string, { n: number; us: number }> = {}
  /** Applied ops by the view length that holds them, until signed. */
  private pending: Array<{ length: number; ids: Id[] }> = []

  mark(ids: Id[], stage: Stage, at = Date.now()): void {
    const i = STAGES.indexOf(stage)
    for (const id of ids) {
      let times = this.ops.get(id)
      if (times === undefined) this.ops.set(id, (times = []))
      times[i] ??= at
    }
  }

  applied(ids: Id[], length: number): void {
    if (ids.length === 0) return
    this.mark(ids, 'applied')
    this.pending.push({ length, ids })
  }

  /** The view is final up to `final` and signed up to `signed`. */
  settle(final: number, signed: number): void {
    const now = Date.now()
    this.pending = this.pending.filter((p) => {
      if (p.length <= final) this.mark(p.ids, 'final', now)
      if (p.length > signed) return true
      this.mark(p.ids, 'signed', now)
      return false
    })
  }

  /** Engine runs per op on this peer (re-runs after reorgs), and how many ops ran 1, 2, 3+ times. */
  private readonly runs = new Map<Id, number>()

  /** An engine run of `id`, on a node applied as indexed (final order) or on the tip. */
  ran(id: Id, indexed: boolean): void {
    const n = (this.runs.get(id) ?? 0) + 1
    this.runs.set(id, n)
    this.count(n === 1 ? 'first runs' : 're-runs', 1)
    if (indexed) this.count('runs on indexed nodes', 1)
  }

  /** Adds `n` to a stage's count, without a time. */
  count(stage: string, n: number): void {
    ;(this.costs[stage] ??= { n: 0, us: 0 }).n += n
  }

  cost(stage: string, started: bigint): void {
    const c = (this.costs[stage] ??= { n: 0, us: 0 })
    c.n++
    c.us += Number(process.hrtime.bigint() - started) / 1000
  }
}
