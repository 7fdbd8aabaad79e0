/**
 * The engine's view for the length of one Autobase apply call: a read cache
 * over the Hyperbee batch that call writes into.
 *
 * Inside one apply call the batch is the only writer of the view, so a value
 * read once stays right until this view writes the key itself; it is thrown
 * away with the call (a reorg between calls truncates the view, and the next
 * call starts cold). Gets then cost a Map lookup instead of a B-tree walk.
 * The decoded offers matching needs live longer, in the ledger's offer book,
 * which this view keeps in step with every offer it writes.
 *
 * Nothing here changes what is written, or in what order: it decorates any
 * View (tests run it over MemoryView against a plain one).
 */
import type { View, RangeOptions } from './types'
import { OfferBook, OfferLayer, offersOf } from './engine/offer-book'
import { decode, offerRecord } from './messages'

/** Past this many cached values, start over (one huge catch-up call must not hold the whole view in memory). */
const MAX_VALUES = 1 << 16
const OFFERS = 'offer/'
const NONE = new Map()

export class ApplyView implements View {
  private readonly values = new Map<string, Buffer | null>()

  /** `book`: the offers of `inner` as this call starts; without one, `inner`'s own (or a scan). */
  constructor (private readonly inner: View, private readonly book: OfferBook | null = null) {}

  async get (key: string): Promise<Buffer | null> {
    const cached = this.values.get(key)
    if (cached !== undefined) return cached
    const value = await this.inner.get(key)
    this.remember(key, value)
    return value
  }

  async put (key: string, value: Buffer): Promise<void> {
    await this.inner.put(key, value)
    this.remember(key, value)
    if (this.book !== null && key.startsWith(OFFERS)) this.book.set(decode(offerRecord, value))
  }

  async del (key: string): Promise<void> {
    await this.inner.del(key)
    this.remember(key, null)
    if (this.book !== null && key.startsWith(OFFERS)) this.book.delete(key.slice(OFFERS.length))
  }

  range (opts: RangeOptions): AsyncIterable<{ key: string, value: Buffer }> {
    return this.inner.range(opts)
  }

  async offers (): Promise<OfferLayer> {
    return this.book === null ? await offersOf(this.inner) : { book: this.book, staged: NONE }
  }

  private remember (key: string, value: Buffer | null): void {
    if (this.values.size >= MAX_VALUES) this.values.clear()
    this.values.set(key, value)
  }
}
