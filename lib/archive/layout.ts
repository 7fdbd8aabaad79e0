/**
 * Where an entry's bytes go. An entry (a file or a directory, one name in the
 * catalog) is the concatenation of its files' ciphertexts; it is cut into
 * stripes of k blocks, each coded into k + m blocks, block j of every stripe
 * going to shard j of the group. A segment is a run of stripes kept by one
 * group: an entry is one segment unless no group has room for all of it.
 */
import { ScitError } from '../errors'
import { formatSize } from '../resources'
import type { SegmentPlan } from './messages'

/** Bytes per block of a full stripe, each shard's unit of storage and of proof. */
export const BLOCK = 64 * 1024

/** Stripes of a segment. */
export function stripes(seg: SegmentPlan, k: number): number {
  return Math.max(1, Math.ceil(seg.bytes / (k * seg.block)))
}

/** Block size of stripe `s` of a segment: `block`, the last one as small as its bytes allow. */
export function blockOf(seg: SegmentPlan, k: number, s: number): number {
  const n = stripes(seg, k)
  if (s < n - 1) return seg.block
  return Math.ceil((seg.bytes - (n - 1) * k * seg.block) / k)
}

/** Bytes of one shard of a segment, what each holder keeps of it. */
export function shardBytes(seg: SegmentPlan, k: number): number {
  return (stripes(seg, k) - 1) * seg.block + blockOf(seg, k, stripes(seg, k) - 1)
}

/** Bytes a holder keeps for `bytes` of an entry in one stripe run. */
function holderBytes(bytes: number, k: number, block: number): number {
  return shardBytes({ group: 0, bytes, block }, k)
}

/**
 * Place an entry of `bytes` in groups with `free` bytes per shard each: whole
 * in the group with most room, else across groups, most room first. Throws
 * CAPACITY with what is free when the archive cannot take it.
 */
export function planSegments(
  bytes: number,
  free: number[],
  k: number,
  block = BLOCK
): SegmentPlan[] {
  if (bytes === 0) return []
  const order = free
    .map((f, group) => ({ group, f }))
    .sort((a, b) => b.f - a.f || a.group - b.group)
  const best = order[0]
  if (best !== undefined && holderBytes(bytes, k, block) <= best.f)
    return [{ group: best.group, bytes, block }]
  const out: SegmentPlan[] = []
  let left = bytes
  for (const { group, f } of order) {
    if (left === 0) break
    if (holderBytes(left, k, block) <= f) {
      out.push({ group, bytes: left, block })
      left = 0
      break
    }
    // full stripes only, so only the last segment has a short stripe
    const full = Math.floor(f / block)
    if (full === 0) continue
    const take = Math.min(left, full * k * block)
    out.push({ group, bytes: take, block })
    left -= take
  }
  if (left > 0) {
    const room = free.reduce((n, f) => n + Math.floor(f / block) * block * k, 0)
    throw new ScitError(
      'CAPACITY',
      `the archive is full: this needs ${formatSize(bytes)} once encrypted, ${formatSize(room)} is free across its ${free.length} ${free.length === 1 ? 'group' : 'groups'}; remove entries (scit bot archive rm) or deploy a larger archive`
    )
  }
  return out
}

/** A stripe's place in an entry's byte stream: which segment, which stripe of it, where it starts and how long. */
export interface StripeRef {
  segment: number
  stripe: number
  offset: number
  block: number
  bytes: number
}

/** Every stripe of an entry, in byte order. */
export function* stripesOf(segments: SegmentPlan[], k: number): Generator<StripeRef> {
  let offset = 0
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]
    const n = stripes(seg, k)
    for (let s = 0; s < n; s++) {
      const block = blockOf(seg, k, s)
      const bytes = Math.min(k * block, seg.bytes - s * k * seg.block)
      yield { segment: i, stripe: s, offset, block, bytes }
      offset += bytes
    }
  }
}
