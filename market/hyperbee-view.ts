/**
 * The engine's View over Hyperbee: keys are utf-8 strings, values binary.
 *
 * Inside Autobase's apply the view is a Hyperbee *batch*: the engine's writes
 * for every node of one apply call stay in it and land in the view core with
 * one flush, and reads see the batch's own pending writes. Outside apply
 * (queries, the explorer) it is read-only over a bee or a snapshot of one.
 */
import type Hyperbee from 'hyperbee'
import type { Batch, RangeOptions as BeeRange } from 'hyperbee'
import { ScitError } from '../lib/errors'
import type { View, RangeOptions } from './types'

type Source = Hyperbee | Batch

export class HyperbeeView implements View {
  constructor (private readonly source: Source, private readonly writable: boolean) {}

  /** A view the engine writes through, over a batch the caller flushes. */
  static writing (batch: Batch): HyperbeeView {
    return new HyperbeeView(batch, true)
  }

  /** A read-only view, for queries. */
  static reading (bee: Source): HyperbeeView {
    return new HyperbeeView(bee, false)
  }

  async get (key: string): Promise<Buffer | null> {
    const entry = await this.source.get(key)
    return entry === null ? null : entry.value
  }

  async put (key: string, value: Buffer): Promise<void> {
    this.checkWritable()
    await (this.source as Batch).put(key, value)
  }

  async del (key: string): Promise<void> {
    this.checkWritable()
    await (this.source as Batch).del(key)
  }

  async * range (opts: RangeOptions): AsyncIterable<{ key: string, value: Buffer }> {
    const range: BeeRange = {}
    if (opts.gt !== undefined) range.gt = opts.gt
    if (opts.gte !== undefined) range.gte = opts.gte
    if (opts.lt !== undefined) range.lt = opts.lt
    if (opts.lte !== undefined) range.lte = opts.lte
    if (opts.reverse === true) range.reverse = true
    if (opts.limit !== undefined) {
      if (opts.limit <= 0) return
      range.limit = opts.limit
    }
    for await (const { key, value } of this.source.createReadStream(range)) yield { key, value }
  }

  private checkWritable (): void {
    // Views outside apply are read-only: a write there would never be replicated and would fork this peer's state.
    if (!this.writable) throw new ScitError('INVALID_ARGUMENT', 'this market view is read-only: only the ledger writes, inside apply')
  }
}
