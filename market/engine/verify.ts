/**
 * A memo of `open()` results, keyed by the envelope id (BLAKE2b-256 of the
 * exact bytes, which the ledger computes anyway). Autobase re-runs apply on
 * the same blocks after every reorg (2-3 times per peer under load), and
 * Ed25519 verify is the single largest cost of an op; a BLAKE2b hash is a
 * few µs. Equal ids mean equal bytes, and `open` depends on nothing but the
 * bytes and the (fixed) accepted types, so a hit returns exactly what a
 * fresh verify would: the engine stays a pure function of (view, op).
 *
 * Bounded LRU (a Map in insertion order, a hit moves to the back). Cached
 * envelopes own copies of their buffers: a decoded envelope's fields are
 * views into the block they came from, and a memo entry must not pin a
 * whole block in memory. The engine never mutates an envelope.
 */
import b4a from 'b4a'
import { open, Envelope, Opened } from '../../lib/envelope'

const MAX = 32768
const memo = new Map<string, Opened>()
/** Hits and misses since start (benchmarks). */
export const verifyStats = { hits: 0, misses: 0 }

let memoAccept: ReadonlySet<number> | null = null

/** `open(buf, { accept })` for the envelope whose id is `id`. Only one `accept` set is memoised (the engine's); any other verifies afresh. */
export function openMemo (buf: Uint8Array, id: string, accept: ReadonlySet<number>): Opened {
  memoAccept ??= accept
  if (memoAccept !== accept) return open(buf, { accept })
  const hit = memo.get(id)
  if (hit !== undefined) {
    verifyStats.hits++
    memo.delete(id)
    memo.set(id, hit)
    return hit
  }
  verifyStats.misses++
  const opened = open(buf, { accept })
  const kept: Opened = opened.ok ? { ok: true, envelope: own(opened.envelope), id: opened.id } : opened
  if (memo.size >= MAX) memo.delete(memo.keys().next().value as string)
  memo.set(id, kept)
  return kept
}

export function isMemoised (id: string): boolean {
  return memo.has(id)
}

/** Keep what a worker's `open()` said about envelope `id` (market/verifier.ts): the engine then finds it here. */
export function prime (id: string, opened: Opened): void {
  if (memo.size >= MAX) memo.delete(memo.keys().next().value as string)
  memo.set(id, opened)
}

/** Forget every memoised result: benchmarks measure cold verification with it. */
export function clearVerifyMemo (): void {
  memo.clear()
}

function own (e: Envelope): Envelope {
  return { ...e, author: b4a.from(e.author), body: b4a.from(e.body), signature: b4a.from(e.signature) }
}
