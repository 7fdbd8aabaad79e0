/**
 * An archive's formats, declared once (docs/ARCHITECTURE.md "Archives").
 *
 * Catalog records: `archive` envelopes the bot signs into the contract core,
 * in core order (seq 0: their order is the core's):
 *
 *   layout   group g's shard j is held by trades[j]            (once per group, after settling)
 *   repair   shard j of group g moves to `trade` (replacing)   (before the new trade is settled)
 *   begin    an entry: where its stripes go
 *   commit   one segment of an entry is stored: each shard's Merkle tree head
 *   meta     the entry's sealed metadata (a blob on the core): it is complete
 *   remove   an entry is deleted: its holders drop its shards
 *
 * Names, sizes and hashes of the user's files are in the sealed metadata only
 * (seal.ts): a node reads where bytes go, never what they are.
 *
 * And the shard protocol ("scit/archive/v1", shard-channel.ts) a bot and the
 * nodes speak: store (bot → holder, during a put), fetch (bot or node →
 * holder, during a get or a rebuild), and summary (what a holder holds).
 */
import c from 'compact-encoding'
import { struct, optional, nonNullBuffer, decodeExact } from '../codec'
import { treeNode, TreeNode } from '../node-messages'

/** Where an entry's sealed metadata sits on the contract core: a file blob, as BlobRef. */
export interface MetaRef {
  start: number
  blocks: number
  size: number
  hash: Buffer
}

/**
 * A run of an entry's stripes kept by one group: `bytes` of the entry's
 * ciphertext, in stripes of k blocks of `block` bytes (the last stripe's
 * blocks are shorter when `bytes` does not fill it).
 */
export interface SegmentPlan {
  group: number
  bytes: number
  block: number
}

export type ArchiveRecord =
  | { kind: 'layout'; group: number; trades: string[] }
  | { kind: 'repair'; group: number; shard: number; trade: string; replaces: string }
  | { kind: 'begin'; entry: Buffer; segments: SegmentPlan[] }
  | { kind: 'commit'; entry: Buffer; segment: number; heads: Buffer[] }
  | { kind: 'meta'; entry: Buffer; meta: MetaRef }
  | { kind: 'remove'; entry: Buffer }

export type RecordKind = ArchiveRecord['kind']
const KINDS: readonly RecordKind[] = ['layout', 'repair', 'begin', 'commit', 'meta', 'remove']

const metaRef = struct<MetaRef>([
  ['start', c.uint],
  ['blocks', c.uint],
  ['size', c.uint],
  ['hash', c.fixed32]
])
const segmentPlan = struct<SegmentPlan>([
  ['group', c.uint],
  ['bytes', c.uint],
  ['block', c.uint]
])

type Of<K extends RecordKind> = Omit<Extract<ArchiveRecord, { kind: K }>, 'kind'>
const bodies: { [K in RecordKind]: c.Encoding<Of<K>> } = {
  layout: struct<Of<'layout'>>([
    ['group', c.uint],
    ['trades', c.array(c.string)]
  ]),
  repair: struct<Of<'repair'>>([
    ['group', c.uint],
    ['shard', c.uint],
    ['trade', c.string],
    ['replaces', c.string]
  ]),
  begin: struct<Of<'begin'>>([
    ['entry', c.fixed32],
    ['segments', c.array(segmentPlan)]
  ]),
  commit: struct<Of<'commit'>>([
    ['entry', c.fixed32],
    ['segment', c.uint],
    ['heads', c.array(c.fixed32)]
  ]),
  meta: struct<Of<'meta'>>([
    ['entry', c.fixed32],
    ['meta', metaRef]
  ]),
  remove: struct<Of<'remove'>>([['entry', c.fixed32]])
}

export const archiveRecord: c.Encoding<ArchiveRecord> = {
  preencode(state, r) {
    c.uint.preencode(state, KINDS.indexOf(r.kind))
    ;(bodies[r.kind] as c.Encoding<unknown>).preencode(state, r)
  },
  encode(state, r) {
    c.uint.encode(state, KINDS.indexOf(r.kind))
    ;(bodies[r.kind] as c.Encoding<unknown>).encode(state, r)
  },
  decode(state) {
    const i = c.uint.decode(state)
    if (i >= KINDS.length) throw new Error(`archive record kind ${i} unknown`)
    const kind = KINDS[i]
    return { kind, ...(bodies[kind].decode(state) as object) } as ArchiveRecord
  }
}

export function decodeRecord(buf: Uint8Array): ArchiveRecord {
  return decodeExact(archiveRecord, buf)
}

// --- sealed metadata (seal.ts encrypts it) ---------------------------------------------

export interface EntryFile {
  /** Relative to the entry ('' for an entry that is one file). */
  path: string
  size: number
  hash: Buffer // BLAKE2b-256 of the plaintext, as `b2sum -l 256`
  mode: number
  mtime: number
}

export interface EntryMeta {
  name: string
  dir: boolean
  files: EntryFile[]
  /** Directories of a dir entry, empty ones included, parents first. */
  dirs: string[]
  created: number
}

export const entryMeta = struct<EntryMeta>([
  ['name', c.string],
  ['dir', c.bool],
  [
    'files',
    c.array(
      struct<EntryFile>([
        ['path', c.string],
        ['size', c.uint],
        ['hash', c.fixed32],
        ['mode', c.uint],
        ['mtime', c.uint]
      ])
    )
  ],
  ['dirs', c.array(c.string)],
  ['created', c.uint]
])

// --- the shard protocol -------------------------------------------------------------------

export const PROTOCOL = 'scit/archive/v1'

/** Which shard of which segment: a holder keeps one core per ShardRef. */
export interface ShardRef {
  contract: Buffer
  group: number
  entry: Buffer
  segment: number
  shard: number
}

/** ShardRef's fields in wire order: each message that names a shard carries them after its id. */
const shardRef: { [K in keyof ShardRef]-?: [K, c.Encoding<ShardRef[K]>] }[keyof ShardRef][] = [
  ['contract', c.fixed32],
  ['group', c.uint],
  ['entry', c.fixed32],
  ['segment', c.uint],
  ['shard', c.uint]
]

/** Blocks `start`… of a shard, from the entry's writer. */
export interface Store extends ShardRef {
  id: number
  start: number
  blocks: Buffer[]
}
export const store = struct<Store>([
  ['id', c.uint],
  ...shardRef,
  ['start', c.uint],
  ['blocks', c.array(nonNullBuffer())]
])

export interface Stored {
  id: number
  error: string | null
  /** Blocks the holder has of this shard now. */
  length: number
}
export const stored = struct<Stored>([
  ['id', c.uint],
  ['error', optional(c.string)],
  ['length', c.uint]
])

/** Blocks per fetch answer at most (with 64 KiB blocks, 4 MiB). */
export const MAX_FETCH_BLOCKS = 64

/** Blocks [start, end) of a shard; with `proveAt` > 0, each with its Merkle path to the roots of the tree of that length. */
export interface Fetch extends ShardRef {
  id: number
  start: number
  end: number
  proveAt: number
}
export const fetch = struct<Fetch>([
  ['id', c.uint],
  ...shardRef,
  ['start', c.uint],
  ['end', c.uint],
  ['proveAt', c.uint]
])

export interface Fetched {
  id: number
  error: string | null
  blocks: Buffer[]
  /** With proveAt: the roots at that length, then each block's path. */
  roots: TreeNode[]
  paths: TreeNode[][]
}
export const fetched = struct<Fetched>([
  ['id', c.uint],
  ['error', optional(c.string)],
  ['blocks', c.array(nonNullBuffer())],
  ['roots', c.array(treeNode)],
  ['paths', c.array(c.array(treeNode))]
])

export interface Cancel {
  id: number
}
export const cancel = struct<Cancel>([['id', c.uint]])

/** What a holder keeps of a contract: asked by `health`. */
export interface SummaryRequest {
  id: number
  contract: Buffer
}
export const summaryRequest = struct<SummaryRequest>([
  ['id', c.uint],
  ['contract', c.fixed32]
])

export interface Summary {
  id: number
  error: string | null
  /** Committed segments of its shard it holds whole, and those it lacks or is rebuilding. */
  held: number
  missing: number
  rebuilding: number
  bytes: number
}
export const summary = struct<Summary>([
  ['id', c.uint],
  ['error', optional(c.string)],
  ['held', c.uint],
  ['missing', c.uint],
  ['rebuilding', c.uint],
  ['bytes', c.uint]
])
