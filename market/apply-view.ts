/**
 * The engine's view for the length of one Autobase apply call: a read cache
 * over the Hyperbee batch that call writes into.
 *
 * Inside one apply call the batch is the only writer of the view, so a value
 * read once stays right until this view writes the key itself; it is thrown
 * away with the call (a reorg between calls truncates the view, and the next
 * call starts cold). Gets then cost a Map lookup instead of a B-tree walk,
 * and ranges under a few small, hot prefixes (every offer: matching reads
 * them all per bid) are served from a sorted key list loaded once.
 *
 * Nothing here changes what is written, or in what order: it decorates any
 * View (tests run it over MemoryView against a plain one).
 */
import type { View, RangeOptions } from './types'
import { inRange, lowerBound } from './range'

/** Prefixes read whole and often by the engine, and small: one offer per node. */
export const HOT_PREFIXES = ['offer/']
/** Past this many cached values, start over (one huge catch-up call must not hold the whole view in memory). */
const MAX_VALUES = 1 << 16
const END = '\xff'

export class ApplyView implements View {
  private readonly values = new Map<string, Buffer | null>()
  /** Loaded hot prefixes: every key under it, sorted. */
  private readonly lists = new Map<string, string[]>()

  constructor (private readonly inner: View, private readonly hot: readonly string[] = HOT_PREFIXES) {}

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
    const list = this.listOf(key)
    if (list !== null) {
      const i = lowerBound(list, key)
      if (list[i] !== key) list.splice(i, 0, key)
    }
  }

  async del (key: string): Promise<void> {
    await this.inner.del(key)
    this.remember(key, null)
    const list = this.listOf(key)
    if (list !== null) {
      const i = lowerBound(list, key)
      if (list[i] === key) list.splice(i, 1)
    }
  }

  range (opts: RangeOptions): AsyncIterable<{ key: string, value: Buffer }> {
    const prefix = this.hot.find(p => within(opts, p))
    return prefix === undefined ? this.inner.range(opts) : this.fromList(prefix, opts)
  }

  private async * fromList (prefix: string, opts: RangeOptions): AsyncIterable<{ key: string, value: Buffer }> {
    let list = this.lists.get(prefix)
    if (list === undefined) {
      list = []
      for await (const { key, value } of this.inner.range({ gte: prefix, lt: prefix + END })) {
        list.push(key)
        this.remember(key, value)
      }
      this.lists.set(prefix, list)
    }
    // A copy of the matching keys: the caller may write while it iterates.
    let keys = list.filter(k => inRange(k, opts))
    if (opts.reverse === true) keys = keys.reverse()
    if (opts.limit !== undefined) keys = keys.slice(0, Math.max(0, opts.limit))
    for (const key of keys) {
      const value = await this.get(key)
      if (value !== null) yield { key, value }
    }
  }

  private remember (key: string, value: Buffer | null): void {
    if (this.values.size >= MAX_VALUES) this.values.clear()
    this.values.set(key, value)
  }

  private listOf (key: string): string[] | null {
    for (const [prefix, list] of this.lists) if (key.startsWith(prefix)) return list
    return null
  }
}

/** True when every key the range can yield starts with `prefix`. */
function within (o: RangeOptions, prefix: string): boolean {
  const lo = o.gte ?? o.gt
  const hi = o.lt ?? o.lte
  return lo !== undefined && hi !== undefined && lo >= prefix && hi <= prefix + END
}
