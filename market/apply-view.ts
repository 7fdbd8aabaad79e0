/**
 * A read cache over the Hyperbee batch of one Autobase apply call. Within a call the batch is the view's only
 * writer, so a cached value stays right; a reorg between calls truncates the view, so the cache dies with the call.
 * It never changes what is written or in what order.
 */
import type { View, RangeOptions } from './types'
import { OfferBook, OfferLayer, OfferView, offersOf } from './engine/offer-book'

/** A huge catch-up call must not hold the whole view in memory. */
const MAX_VALUES = 1 << 16

export class ApplyView implements OfferView {
  private readonly values = new Map<string, Buffer | null>()

  /** `book`: the offers of `inner` as this call starts. */
  constructor(
    private readonly inner: View,
    private readonly book: OfferBook | null = null
  ) {}

  async get(key: string): Promise<Buffer | null> {
    const cached = this.values.get(key)
    if (cached !== undefined) return cached
    const value = await this.inner.get(key)
    this.remember(key, value)
    return value
  }

  async put(key: string, value: Buffer): Promise<void> {
    await this.inner.put(key, value)
    this.remember(key, value)
    this.book?.write(key, value)
  }

  async del(key: string): Promise<void> {
    await this.inner.del(key)
    this.remember(key, null)
    this.book?.write(key, null)
  }

  range(opts: RangeOptions): AsyncIterable<{ key: string; value: Buffer }> {
    return this.inner.range(opts)
  }

  async offers(): Promise<OfferLayer> {
    return this.book === null ? await offersOf(this.inner) : this.book.layer()
  }

  private remember(key: string, value: Buffer | null): void {
    if (this.values.size >= MAX_VALUES) this.values.clear()
    this.values.set(key, value)
  }
}
