/** One op's writes, staged over the view: only an accepted op commits, so a rejection half way leaves the view as it was. */
import type c from 'compact-encoding'
import type { RangeOptions } from '../types'
import { inRange, lowerBound } from '../range'
import { encode, offerRecord } from '../messages'
import type { Offer, KeyText } from '../types'
import { offersOf, overlay, OfferLayer, OfferView } from './offer-book'
import { decoded, encoded } from './decoded'
import * as K from './keys'

export class Tx {
  private writes = new Map<string, Buffer | null>()
  /** Sorted: ranges and commit walk them in order. */
  private keys: string[] = []
  private offerWrites = 0
  private layer: { below: OfferLayer; offerWrites: number; layer: OfferLayer } | null = null

  constructor(readonly view: OfferView) {}

  // Not async: a view read passes straight through, one await for the caller.
  get(key: string): Promise<Buffer | null> {
    const w = this.writes.get(key)
    return w !== undefined ? Promise.resolve(w) : this.view.get(key)
  }

  put(key: string, value: Buffer): void {
    this.stage(key, value)
  }
  del(key: string): void {
    this.stage(key, null)
  }

  private stage(key: string, value: Buffer | null): void {
    if (key.startsWith(K.OFFERS)) this.offerWrites++
    if (!this.writes.has(key)) this.keys.splice(lowerBound(this.keys, key), 0, key)
    this.writes.set(key, value)
  }

  async read<T>(enc: c.Encoding<T>, key: string): Promise<T | null> {
    const w = this.writes.get(key)
    const buf = w !== undefined ? w : await this.view.get(key)
    return buf === null ? null : this.decode(enc, buf)
  }

  decode<T>(enc: c.Encoding<T>, buf: Buffer): T {
    return decoded(enc, buf)
  }

  write<T>(enc: c.Encoding<T>, key: string, value: T): void {
    const buf = encode(enc, value)
    encoded(enc, buf, value)
    this.put(key, buf)
  }

  /** The view's range with this op's writes merged in: staged puts appear, staged deletes vanish. */
  range(opts: RangeOptions): AsyncIterable<{ key: string; value: Buffer }> {
    const staged: string[] = []
    const lo = opts.gte ?? opts.gt
    for (let i = lo === undefined ? 0 : lowerBound(this.keys, lo); i < this.keys.length; i++) {
      const k = this.keys[i]
      if (inRange(k, opts)) staged.push(k)
      else if (lo === undefined || k > lo) break // past the upper bound: keys are sorted
    }
    if (staged.length === 0) return this.view.range(opts)
    return this.merged(opts, staged)
  }

  private async *merged(
    opts: RangeOptions,
    staged: string[]
  ): AsyncIterable<{ key: string; value: Buffer }> {
    const reverse = opts.reverse === true
    let limit = opts.limit ?? Infinity
    if (limit <= 0) return
    if (reverse) staged.reverse()
    let si = 0
    const before = (a: string, b: string): boolean => (reverse ? a > b : a < b)
    const under = { ...opts, limit: undefined }
    for await (const entry of this.view.range(under)) {
      while (si < staged.length && before(staged[si], entry.key)) {
        const v = this.writes.get(staged[si++])
        if (v) {
          yield { key: staged[si - 1], value: v }
          if (--limit <= 0) return
        }
      }
      let value: Buffer | null = entry.value
      if (si < staged.length && staged[si] === entry.key)
        value = this.writes.get(staged[si++]) ?? null
      if (value !== null) {
        yield { key: entry.key, value }
        if (--limit <= 0) return
      }
    }
    while (si < staged.length && limit > 0) {
      const k = staged[si++]
      const v = this.writes.get(k)
      if (v) {
        yield { key: k, value: v }
        limit--
      }
    }
  }

  /** The view's offers with this transaction's offer writes on top, kept until either changes. */
  async offers(): Promise<OfferLayer> {
    const below = await offersOf(this.view)
    const kept = this.layer
    if (
      kept !== null &&
      kept.offerWrites === this.offerWrites &&
      kept.below.book === below.book &&
      kept.below.staged === below.staged
    )
      return kept.layer
    const layer = overlay(below, this.stagedOffers())
    this.layer = { below, offerWrites: this.offerWrites, layer }
    return layer
  }

  private *stagedOffers(): Iterable<Offer | [KeyText, null]> {
    for (
      let i = lowerBound(this.keys, K.OFFERS);
      i < this.keys.length && this.keys[i].startsWith(K.OFFERS);
      i++
    ) {
      const v = this.writes.get(this.keys[i])
      yield v === null || v === undefined
        ? [this.keys[i].slice(K.OFFERS.length), null]
        : this.decode(offerRecord, v)
    }
  }

  get size(): number {
    return this.writes.size
  }

  /** The staged writes, in key order (null: a delete). */
  *staged(): Iterable<[string, Buffer | null]> {
    for (const k of this.keys) yield [k, this.writes.get(k) ?? null]
  }

  /** This transaction as a View: what an engine run writes through it stays staged until `commit`. */
  asView(): OfferView {
    return {
      get: (key) => this.get(key),
      put: async (key, value) => this.put(key, value),
      del: async (key) => this.del(key),
      range: (opts) => this.range(opts),
      offers: () => this.offers()
    }
  }

  /** Apply the staged writes to the view, in key order so a B-tree view is built the same way on every peer. */
  async commit(): Promise<void> {
    for (const k of this.keys) {
      const v = this.writes.get(k)
      if (v === null || v === undefined) await this.view.del(k)
      else await this.view.put(k, v)
    }
    this.writes.clear()
    this.keys = []
    this.layer = null
  }
}
