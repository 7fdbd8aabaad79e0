/**
 * An LRU memo of `open()` by envelope id (BLAKE2b-256 of the exact bytes), so Autobase re-applies after a reorg skip
 * Ed25519. Equal ids mean equal bytes and `open` depends on nothing else (the accepted types are fixed), so a hit
 * is what a fresh verify would return: the engine stays pure. Entries own copies so they do not pin whole blocks.
 */
import b4a from 'b4a'
import { open, Envelope, Opened } from '../../lib/envelope'

/**
 * Twice the signature pool's look-ahead (signature-pool.ts AHEAD), and more than a reorg re-runs. With the market
 * simulation's ops the memo held 7 MiB at 8,192 entries and 27 MiB at 32,768 (heap and buffers).
 */
const MAX = 8192
const memo = new Map<string, Opened>()
export const verifyStats = { hits: 0, misses: 0 }

let memoAccept: ReadonlySet<number> | null = null

/** Only one `accept` set is memoised (the engine's); any other verifies afresh. */
export function openMemo(buf: Uint8Array, id: string, accept: ReadonlySet<number>): Opened {
  memoAccept ??= accept
  if (memoAccept !== accept) return open(buf, { accept, id })
  const hit = memo.get(id)
  if (hit !== undefined) {
    verifyStats.hits++
    memo.delete(id)
    memo.set(id, hit)
    return hit
  }
  verifyStats.misses++
  const opened = open(buf, { accept, id })
  const kept: Opened = opened.ok
    ? { ok: true, envelope: own(opened.envelope), id: opened.id }
    : opened
  prime(id, kept)
  return kept
}

export function isMemoised(id: string): boolean {
  return memo.has(id)
}

/** Keep an `open()` result for envelope `id`: the engine's own, or a worker's (market/signature-pool.ts). */
export function prime(id: string, opened: Opened): void {
  if (memo.size >= MAX) memo.delete(memo.keys().next().value as string)
  memo.set(id, opened)
}

export function clearVerifyMemo(): void {
  memo.clear()
}

function own(e: Envelope): Envelope {
  return {
    ...e,
    author: b4a.from(e.author),
    body: b4a.from(e.body),
    signature: b4a.from(e.signature)
  }
}
