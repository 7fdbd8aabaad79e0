/**
 * A replica's state core (docs/ARCHITECTURE.md "State in the notary"), as node and bot share it: one
 * Hypercore per replica, written only by its node, holding snapshots of the
 * paths its service declares (`state:` in the template).
 *
 *   blob marker + raw chunks   a changed file: `0x00 ‖ blocks ‖ size`, then `blocks` chunks
 *                              (CHUNK_SIZE; empty chunks pad a file that shrank while read)
 *   `snapshot` envelope        Snapshot: every file of the state at that moment, each
 *                              pointing at the chunks that hold it (this or an earlier
 *                              snapshot's), and the total hash; envelope seq = snapshot seq
 *
 * The same framing as a contract core (a marker starts with 0, an envelope
 * with its version), so a reader walks it forward and skips file chunks
 * without fetching them. A file version no snapshot points at any more is
 * cleared (node and bot keep the latest state, not its history): markers and
 * snapshots stay, so the core still reads from the start. The node's
 * signature over the envelope covers the
 * contract, the replica, the sequence and the total hash; each file's hash
 * is in it too, so a reader trusts no byte it did not hash.
 */
import fs from 'fs'
import { once } from 'events'
import c from 'compact-encoding'
import b4a from 'b4a'
import type Hypercore from 'hypercore'
import { struct, decodeExact } from './codec'
import { open as openEnvelope, TYPES } from './envelope'
import { hash, encodeKey, shortKey } from './keys'
import {
  VerificationError,
  FileHash,
  blobMarkerEncoding,
  BLOB_MARKER,
  CHUNK_SIZE
} from './contract-messages'

/** One file of a snapshot: its bytes are blocks [start, start + blocks) of the state core. */
export interface StateFile {
  path: string
  size: number
  hash: Buffer
  start: number
  blocks: number
}

export interface Snapshot {
  contract: Buffer
  /** The replica's workload id on its node (its trade id, lower case). */
  replica: string
  seq: number
  /** Every file of the state, sorted by path. */
  files: StateFile[]
  /** Bytes this snapshot appended (its changed files). */
  appended: number
  /** stateHash(files): what a restore instruction names. */
  hash: Buffer
}

export const stateFileEncoding = struct<StateFile>([
  ['path', c.string],
  ['size', c.uint],
  ['hash', c.fixed32],
  ['start', c.uint],
  ['blocks', c.uint]
])
export const snapshotEncoding = struct<Snapshot>([
  ['contract', c.fixed32],
  ['replica', c.string],
  ['seq', c.uint],
  ['files', c.array(stateFileEncoding)],
  ['appended', c.uint],
  ['hash', c.fixed32]
])

const contentEncoding = c.array(
  struct<{ path: string; size: number; hash: Buffer }>([
    ['path', c.string],
    ['size', c.uint],
    ['hash', c.fixed32]
  ])
)

/** The total hash of a state: its files' paths, sizes and hashes, not where their bytes sit. */
export function stateHash(files: Array<{ path: string; size: number; hash: Buffer }>): Buffer {
  return hash(
    'scit/state',
    c.encode(
      contentEncoding,
      files.map((f) => ({ path: f.path, size: f.size, hash: f.hash }))
    )
  )
}

export function stateSize(files: StateFile[]): number {
  return files.reduce((n, f) => n + f.size, 0)
}

export interface SnapshotExpect {
  node: Buffer
  contract: Buffer
  /** The replica's workload id; unchecked when absent. */
  replica?: string
}

/** A verified snapshot and where it ends: `length` is the core length up to and with its envelope. */
export interface SnapshotAt {
  snapshot: Snapshot
  length: number
  timestamp: number
}

/** Check one envelope block as a snapshot of `expect`; the files' bytes are checked separately (verifyFiles). */
export function openSnapshot(block: Buffer, index: number, expect: SnapshotExpect): SnapshotAt {
  const r = openEnvelope(block, { accept: new Set([TYPES.snapshot]) })
  if (!r.ok)
    throw new VerificationError(
      'bad-snapshot',
      `block ${index} is not a valid snapshot envelope: ${r.message}`
    )
  const env = r.envelope
  if (!b4a.equals(env.author, expect.node))
    throw new VerificationError(
      'bad-snapshot',
      `snapshot at block ${index} is signed by ${encodeKey(env.author)}, not by the replica's node ${encodeKey(expect.node)}`
    )
  let s: Snapshot
  try {
    s = decodeExact(snapshotEncoding, env.body)
  } catch (err) {
    throw new VerificationError(
      'bad-snapshot',
      `snapshot at block ${index} does not decode: ${(err as Error).message}`
    )
  }
  if (env.seq !== s.seq)
    throw new VerificationError(
      'bad-snapshot',
      `snapshot at block ${index}: envelope seq ${env.seq}, body seq ${s.seq}`
    )
  if (!b4a.equals(s.contract, expect.contract))
    throw new VerificationError(
      'bad-snapshot',
      `snapshot at block ${index} is of contract ${shortKey(s.contract)}, not ${shortKey(expect.contract)}`
    )
  if (expect.replica !== undefined && s.replica !== expect.replica)
    throw new VerificationError(
      'bad-snapshot',
      `snapshot at block ${index} is of replica ${s.replica}, not ${expect.replica}`
    )
  let prev = ''
  for (const f of s.files) {
    if (f.path <= prev)
      throw new VerificationError(
        'bad-snapshot',
        `snapshot ${s.seq}: files out of order at "${f.path}"`
      )
    if (f.start + f.blocks > index || f.size > f.blocks * CHUNK_SIZE)
      throw new VerificationError(
        'bad-snapshot',
        `snapshot ${s.seq}: ${f.path} points at blocks it cannot have`
      )
    prev = f.path
  }
  if (!b4a.equals(stateHash(s.files), s.hash))
    throw new VerificationError(
      'snapshot-mismatch',
      `snapshot ${s.seq}: its files do not hash to its total hash`
    )
  return { snapshot: s, length: index + 1, timestamp: env.timestamp }
}

/** A marker block's extent, or null for an envelope. */
function markerOf(block: Buffer, index: number): number | null {
  if (block[0] !== BLOB_MARKER) return null
  try {
    return decodeExact(blobMarkerEncoding, block).blocks
  } catch {
    throw new VerificationError(
      'bad-snapshot',
      `block ${index} is neither a file marker nor an envelope`
    )
  }
}

export interface ScanResult {
  snapshots: SnapshotAt[]
  /** Where the next read starts: after the last complete record. */
  next: number
}

/**
 * Walk a state core forward from `from` (a record boundary) to its length,
 * checking each snapshot's envelope; `wait: false` reads only what is local
 * and stops at the first missing block. A file cut short at the tail (its
 * writer stopped mid-snapshot) ends the scan before its marker.
 */
export async function scanState(
  core: Hypercore,
  from: number,
  expect: SnapshotExpect,
  opts: { wait?: boolean; timeout?: number } = {}
): Promise<ScanResult> {
  const out: ScanResult = { snapshots: [], next: from }
  let i = from
  while (i < core.length) {
    const block = await core.get(i, { wait: opts.wait ?? false, timeout: opts.timeout })
    if (block === null) break
    const blocks = markerOf(block, i)
    if (blocks !== null) {
      i += 1 + blocks
      continue
    }
    out.snapshots.push(openSnapshot(block, i, expect))
    out.next = i = i + 1
  }
  return out
}

/**
 * Hash the blocks of `files` and compare with their signed sizes and hashes.
 * `from`: only files whose blocks start there or later (the ones a snapshot
 * appended; older ones were verified with the snapshot that appended them).
 * Resolves with the bytes verified.
 */
export async function verifyFiles(
  core: Hypercore,
  files: StateFile[],
  opts: { from?: number; wait?: boolean; timeout?: number } = {}
): Promise<number> {
  let bytes = 0
  for (const f of files) {
    if (f.start < (opts.from ?? 0) && f.blocks > 0) continue
    await readFile(core, f, null, opts)
    bytes += f.size
  }
  return bytes
}

/** Stream one file's blocks to `dest` (null: only verify); a file that does not verify is removed and refused. */
export async function readFile(
  core: Hypercore,
  f: StateFile,
  dest: string | null,
  opts: { wait?: boolean; timeout?: number } = {}
): Promise<void> {
  const out = dest === null ? null : fs.createWriteStream(dest, { mode: 0o600 })
  const range =
    opts.wait === true && f.blocks > 0
      ? core.download({ start: f.start, end: f.start + f.blocks })
      : null
  const h = new FileHash()
  let err: VerificationError | null = null
  try {
    for (let i = f.start; i < f.start + f.blocks; i++) {
      let chunk: Buffer | null
      try {
        chunk = await core.get(i, { wait: opts.wait ?? false, timeout: opts.timeout })
      } catch {
        chunk = null
      }
      if (chunk === null) {
        err = new VerificationError(
          'snapshot-unavailable',
          `block ${i} of ${f.path} is not available`
        )
        break
      }
      h.update(chunk)
      if (h.size > f.size) {
        err = new VerificationError(
          'snapshot-mismatch',
          `${f.path} is longer than its signed ${f.size} bytes`
        )
        break
      }
      if (out !== null && !out.write(chunk)) await once(out, 'drain')
    }
    if (err === null && (h.size !== f.size || !b4a.equals(h.digest(), f.hash)))
      err = new VerificationError(
        'snapshot-mismatch',
        `${f.path}: the bytes on the state core do not hash to its signed ${f.hash.toString('hex').slice(0, 16)}…`
      )
  } finally {
    range?.destroy()
    if (out !== null) {
      out.end()
      await once(out, 'close')
    }
  }
  if (err !== null) {
    if (dest !== null) await fs.promises.rm(dest, { force: true })
    throw err
  }
}

export { CHUNK_SIZE as STATE_CHUNK }
