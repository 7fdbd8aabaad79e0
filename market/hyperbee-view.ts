/** The engine's View over Hyperbee: a batch inside Autobase's apply, read-only over a bee or snapshot outside it. */
import type Hyperbee from 'hyperbee'
import type { Batch, RangeOptions as BeeRange } from 'hyperbee'
import { ScitError } from '../lib/errors'
import type { View, RangeOptions } from './types'

type Source = Hyperbee | Batch

export class HyperbeeView implements View {
  constructor(
    private readonly source: Source,
    private readonly writable: boolean
  ) {}

  /** The caller flushes the batch. */
  static writing(batch: Batch): HyperbeeView {
    return new HyperbeeView(batch, true)
  }

  static reading(bee: Source): HyperbeeView {
    return new HyperbeeView(bee, false)
  }

  async get(key: string): Promise<Buffer | null> {
    const entry = await this.source.get(key)
    return entry === null ? null : entry.value
  }

  async put(key: string, value: Buffer): Promise<void> {
    this.checkWritable()
    await (this.source as Batch).put(key, value)
  }

  async del(key: string): Promise<void> {
    this.checkWritable()
    await (this.source as Batch).del(key)
  }

  async *range(opts: RangeOptions): AsyncIterable<{ key: string; value: Buffer }> {
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

  private checkWritable(): void {
    // A write outside apply would never be replicated and would fork this peer's state.
    if (!this.writable)
      throw new ScitError(
        'INVALID_ARGUMENT',
        'this market view is read-only: only the ledger writes, inside apply'
      )
  }
}
