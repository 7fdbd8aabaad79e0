/**
 * The ledger's block: version · list of signed envelopes. Many ops per block, as Autobase takes a non-writer's
 * optimistic blocks one at a time. The engine never sees a block, only each envelope's exact bytes.
 */
import c from 'compact-encoding'
import { decodeExact } from '../lib/codec'
import { MAX_ENVELOPE_BYTES } from '../lib/envelope'

export const BLOCK_VERSION = 1
/** Bounds a block before anything is allocated. */
export const MAX_BLOCK_OPS = 512
export const MAX_BLOCK_BYTES = 1024 * 1024

const blockEncoding: c.Encoding<Buffer[]> = {
  preencode(state, envelopes) {
    c.uint.preencode(state, BLOCK_VERSION)
    c.uint.preencode(state, envelopes.length)
    for (const e of envelopes) c.buffer.preencode(state, e)
  },
  encode(state, envelopes) {
    c.uint.encode(state, BLOCK_VERSION)
    c.uint.encode(state, envelopes.length)
    for (const e of envelopes) c.buffer.encode(state, e)
  },
  decode(state) {
    const version = c.uint.decode(state)
    if (version !== BLOCK_VERSION) throw new Error(`block version ${version} is not supported`)
    const n = c.uint.decode(state)
    if (n === 0 || n > MAX_BLOCK_OPS)
      throw new Error(`block holds ${n} envelopes (1 to ${MAX_BLOCK_OPS})`)
    const out: Buffer[] = []
    for (let i = 0; i < n; i++) {
      const e = c.buffer.decode(state)
      if (e === null || e.byteLength > MAX_ENVELOPE_BYTES)
        throw new Error('envelope missing or too large')
      out.push(e)
    }
    return out
  }
}

export function encodeBlock(envelopes: Buffer[]): Buffer {
  return c.encode(blockEncoding, envelopes)
}

/** The envelopes of a block, or null for bytes that are not a block (nothing in them is attributable). */
export function decodeBlock(buf: Uint8Array): Buffer[] | null {
  if (buf.byteLength > MAX_BLOCK_BYTES) return null
  try {
    return decodeExact(blockEncoding, buf)
  } catch {
    return null
  }
}

export function toBlocks(envelopes: Buffer[]): Buffer[] {
  // 8 bytes of framing per envelope at most, 16 for the block's header.
  return split(envelopes, MAX_BLOCK_OPS, MAX_BLOCK_BYTES - 16, 8).map(encodeBlock)
}

/** In order; `overhead` bytes counted per envelope; an envelope over `maxBytes` gets a group of its own. */
export function split(
  envelopes: Buffer[],
  maxOps: number,
  maxBytes: number,
  overhead = 0
): Buffer[][] {
  const groups: Buffer[][] = []
  let current: Buffer[] = []
  let bytes = 0
  for (const e of envelopes) {
    if (
      current.length > 0 &&
      (current.length >= maxOps || bytes + e.byteLength + overhead > maxBytes)
    ) {
      groups.push(current)
      current = []
      bytes = 0
    }
    current.push(e)
    bytes += e.byteLength + overhead
  }
  if (current.length > 0) groups.push(current)
  return groups
}
