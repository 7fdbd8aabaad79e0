/**
 * An in-memory View for tests, benchmarks and tools, keys in a chunked sorted list. Keys compare as JS strings,
 * which is a Hyperbee's byte order for the engine's ASCII keys.
 */
import b4a from 'b4a'
import c from 'compact-encoding'
import type { RangeOptions } from './types'
import { lowerBound } from './range'
import { OfferBook, OfferLayer, OfferView } from './engine/offer-book'

const CHUNK = 256
const DONE = Promise.resolve()

export class MemoryView implements OfferView {
  private values = new Map<string, Buffer>()
  private chunks: string[][] = []
  private version = 0 // bumped when a key is added or removed: cursors re-seek
  /** Built on first use, then kept in step with every write. */
  private book: OfferBook | null = null

  get size(): number {
    return this.values.size
  }

  // Not async: settled promises, no frame per call.
  get(key: string): Promise<Buffer | null> {
    return Promise.resolve(this.values.get(key) ?? null)
  }

  put(key: string, value: Buffer): Promise<void> {
    this.putSync(key, value)
    return DONE
  }

  del(key: string): Promise<void> {
    this.delSync(key)
    return DONE
  }

  putSync(key: string, value: Buffer): void {
    if (!this.values.has(key)) this.insertKey(key)
    this.values.set(key, value)
    this.book?.write(key, value)
  }

  delSync(key: string): void {
    if (!this.values.delete(key)) return
    this.book?.write(key, null)
    this.version++
    const ci = this.chunkFor(key)
    const chunk = this.chunks[ci]
    chunk.splice(lowerBound(chunk, key), 1)
    if (chunk.length === 0) this.chunks.splice(ci, 1)
  }

  async offers(): Promise<OfferLayer> {
    this.book ??= await OfferBook.load(this)
    return this.book.layer()
  }

  /** Not an async generator (a queue and two promises per item): each step resolves at once. */
  range(opts: RangeOptions = {}): AsyncIterable<{ key: string; value: Buffer }> {
    const keys = this.keys(opts)
    const values = this.values
    const done: IteratorResult<{ key: string; value: Buffer }> = { done: true, value: undefined }
    const iterator: AsyncIterator<{ key: string; value: Buffer }> = {
      next: async () => {
        for (;;) {
          const k = keys.next()
          if (k.done === true) return done
          const value = values.get(k.value)
          // A key deleted while the caller iterates is skipped.
          if (value !== undefined) return { done: false, value: { key: k.value, value } }
        }
      },
      return: async () => {
        keys.return(undefined)
        return done
      }
    }
    return { [Symbol.asyncIterator]: () => iterator }
  }

  *keys(opts: RangeOptions = {}): Generator<string> {
    let limit = opts.limit ?? Infinity
    if (limit <= 0 || this.chunks.length === 0) return
    const lo = opts.gte ?? opts.gt
    const hi = opts.lte ?? opts.lt
    const inLo = (k: string): boolean =>
      lo === undefined || (opts.gte !== undefined ? k >= lo : k > lo)
    const inHi = (k: string): boolean =>
      hi === undefined || (opts.lte !== undefined ? k <= hi : k < hi)
    const reverse = opts.reverse === true
    // A put or del by the caller mid-walk makes the cursor re-seek by the last key it gave out.
    let cur: string | undefined = reverse ? hi : lo
    const inclusive = reverse
      ? opts.lte !== undefined || hi === undefined
      : opts.gte !== undefined || lo === undefined
    let pos = reverse ? this.seekBack(cur, inclusive) : this.seek(cur, inclusive)
    let version = this.version
    while (limit > 0 && pos !== null) {
      const next = this.chunks[pos[0]][pos[1]]
      if (reverse ? !inLo(next) : !inHi(next)) return
      yield next
      limit--
      cur = next
      if (version !== this.version) {
        pos = reverse ? this.seekBack(cur, false) : this.seek(cur, false)
        version = this.version
      } else {
        pos = reverse ? this.stepBack(pos) : this.step(pos)
      }
    }
  }

  /** Canonical: equal views give equal dumps. */
  dump(): Buffer {
    const parts: Buffer[] = []
    for (const chunk of this.chunks) {
      for (const key of chunk) {
        parts.push(c.encode(c.string, key), c.encode(c.buffer, this.values.get(key) ?? null))
      }
    }
    return b4a.concat(parts)
  }

  static load(dump: Uint8Array): MemoryView {
    const out = new MemoryView()
    const state = c.state(0, dump.byteLength, b4a.from(dump))
    while (state.start < state.end) {
      const key = c.string.decode(state)
      const value = c.buffer.decode(state)
      out.putSync(key, b4a.from(value ?? b4a.alloc(0)))
    }
    return out
  }

  clone(): MemoryView {
    const out = new MemoryView()
    for (const chunk of this.chunks) out.chunks.push(chunk.slice())
    for (const [k, v] of this.values) out.values.set(k, b4a.from(v))
    return out
  }

  private seek(key: string | undefined, inclusive: boolean): [number, number] | null {
    if (this.chunks.length === 0) return null
    if (key === undefined) return this.chunks.length > 0 ? [0, 0] : null
    let ci = this.chunkFor(key)
    const chunk = this.chunks[ci]
    let i = lowerBound(chunk, key)
    if (i < chunk.length && !inclusive && chunk[i] === key) i++
    if (i >= chunk.length) {
      ci++
      i = 0
    }
    return ci < this.chunks.length ? [ci, i] : null
  }

  private seekBack(key: string | undefined, inclusive: boolean): [number, number] | null {
    if (this.chunks.length === 0) return null
    if (key === undefined)
      return this.chunks.length > 0
        ? [this.chunks.length - 1, this.chunks[this.chunks.length - 1].length - 1]
        : null
    let ci = this.chunkFor(key)
    const chunk = this.chunks[ci]
    let i = lowerBound(chunk, key) // first >= key
    if (!(i < chunk.length && inclusive && chunk[i] === key)) i--
    if (i < 0) {
      ci--
      if (ci < 0) return null
      i = this.chunks[ci].length - 1
    }
    return [ci, i]
  }

  private step(pos: [number, number]): [number, number] | null {
    if (pos[1] + 1 < this.chunks[pos[0]].length) return [pos[0], pos[1] + 1]
    return pos[0] + 1 < this.chunks.length ? [pos[0] + 1, 0] : null
  }

  private stepBack(pos: [number, number]): [number, number] | null {
    if (pos[1] > 0) return [pos[0], pos[1] - 1]
    return pos[0] > 0 ? [pos[0] - 1, this.chunks[pos[0] - 1].length - 1] : null
  }

  private chunkFor(key: string): number {
    let lo = 0
    let hi = this.chunks.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const chunk = this.chunks[mid]
      if (chunk[chunk.length - 1] < key) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  private insertKey(key: string): void {
    this.version++
    if (this.chunks.length === 0) {
      this.chunks.push([key])
      return
    }
    const ci = this.chunkFor(key)
    const chunk = this.chunks[ci]
    chunk.splice(lowerBound(chunk, key), 0, key)
    if (chunk.length > 2 * CHUNK)
      this.chunks.splice(ci, 1, chunk.slice(0, CHUNK), chunk.slice(CHUNK))
  }
}
