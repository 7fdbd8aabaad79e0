/**
 * Decoded records by buffer identity, for views that hand back the buffer they stored (a staged write, an apply
 * call's cache, a MemoryView): a record the engine wrote or read once is never decoded again, by the next op, the
 * counts, the history or the offer book. One bounded Map per encoding, not a WeakMap (its ephemerons cost more in
 * GC than the decode). Records are shared: the engine never mutates one, it writes a copy (counts and flows are
 * copied by their readers).
 */
import type c from 'compact-encoding'
import {
  decode,
  offerRecord,
  bidRecord,
  tradeRecord,
  genesisRecord,
  countsRecord,
  flowsRecord
} from '../messages'

const MAX = 4096
const BY_ENCODING = new Map<unknown, Map<Buffer, unknown>>(
  [offerRecord, bidRecord, tradeRecord, genesisRecord, countsRecord, flowsRecord].map((e) => [
    e,
    new Map()
  ])
)

/** `buf` decoded with `enc`, from the cache when this very buffer was seen before. */
export function decoded<T>(enc: c.Encoding<T>, buf: Buffer): T {
  const cache = BY_ENCODING.get(enc)
  if (cache === undefined) return decode(enc, buf)
  const hit = cache.get(buf)
  if (hit !== undefined) return hit as T
  const value = decode(enc, buf)
  remember(cache, buf, value)
  return value
}

/** `buf` is the encoding of `value` (just written): a later read of it needs no decode. */
export function encoded<T>(enc: c.Encoding<T>, buf: Buffer, value: T): void {
  const cache = BY_ENCODING.get(enc)
  if (cache !== undefined) remember(cache, buf, value)
}

function remember(cache: Map<Buffer, unknown>, buf: Buffer, value: unknown): void {
  if (cache.size >= MAX) cache.clear()
  cache.set(buf, value)
}
