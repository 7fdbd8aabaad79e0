/**
 * One replica's declared state, snapshotted into a state core the node signs
 * (docs/ARCHITECTURE.md "State in the notary"): every `interval` and at a stop,
 * what changed under the declared paths, read once and hashed as it is appended.
 */
import fs from 'fs'
import path from 'path'
import c from 'compact-encoding'
import b4a from 'b4a'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import { clearBlocks } from '../lib/clear-blocks'
import { seal } from '../lib/envelope'
import { ScitError } from '../lib/errors'
import type { KeyPair } from '../lib/identity'
import { logger } from '../lib/log'
import { formatSize } from '../lib/resources'
import { FileHash, blobMarkerEncoding, BLOB_MARKER, StateSpec } from '../lib/contract'
import {
  Snapshot,
  SnapshotAt,
  StateFile,
  STATE_CHUNK,
  scanState,
  openSnapshot,
  stateHash,
  snapshotEncoding
} from '../lib/state-core'
import { placeVerified } from './restore'
import safetyCatch from 'safety-catch'

const log = logger('node/state')

/** Chunks per append: fewer tree updates without holding much memory (1 MiB). */
const BATCH = 16
/** How long a clean stop waits for a peer to hold its last snapshot. */
export const HANDOVER_TIMEOUT = 2000

export interface StateTarget {
  /** The replica's workload id on this node. */
  id: string
  contract: Buffer
  spec: StateSpec
  /** The lease's disk (ssd + hdd): a state larger than this is not snapshotted. */
  limit: number
  workDir: string
  /** A dir of the node's own (not the workload's) where files are verified before they are placed. */
  staging: string
}

interface Memo {
  size: number
  mtimeMs: number
  ctimeMs: number
  ino: number
  file: StateFile
}

/** What a snapshot did: bench and tests read it. */
export interface SnapshotResult {
  seq: number
  appended: number
  files: number
  size: number
}

export class StateKeeper {
  readonly core: Hypercore
  /** The latest snapshot on this core. */
  last: SnapshotAt | null = null
  private readonly memo = new Map<string, Memo>()
  /** Blocks of the latest snapshot a peer fetched from this node: what a clean stop waits for. */
  private readonly sent = new Set<number>()
  private timer: NodeJS.Timeout | null = null
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  constructor(
    store: Corestore,
    private readonly identity: KeyPair,
    readonly target: StateTarget
  ) {
    this.core = store.get({ name: `state/${target.id}` })
    this.core.on('upload', (index: number) => {
      this.sent.add(index)
    })
  }

  get key(): Buffer {
    return this.core.key
  }

  /** Open the core and find its last snapshot; a file cut short by a crash is dropped, so the next one frames right. */
  async open(): Promise<void> {
    await this.core.ready()
    const scan = await scanState(this.core, 0, {
      node: this.identity.publicKey,
      contract: this.target.contract,
      replica: this.target.id
    })
    this.last = scan.snapshots[scan.snapshots.length - 1] ?? null
    if (scan.next < this.core.length) await this.core.truncate(scan.next)
  }

  /** Snapshot every `interval` ms from now on. */
  start(): void {
    if (this.timer !== null || this.closed) return
    this.timer = setInterval(() => {
      this.snapshot().catch((err) =>
        log.warn('snapshot failed', { id: this.target.id, err: (err as Error).message })
      )
    }, this.target.spec.interval)
    this.timer.unref()
  }

  /** Stop the interval (the service stopped); what is queued still runs. */
  pause(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** Take a snapshot now if anything changed; resolves with it, or null when nothing changed. One at a time. */
  snapshot(): Promise<SnapshotResult | null> {
    const run = this.queue.then(() => (this.closed ? null : this.take()))
    this.queue = run.catch(safetyCatch)
    return run
  }

  /** A restarted node puts back, from its own core, what its last snapshot holds and the work dir lacks. */
  async resume(): Promise<number> {
    if (this.last === null) return 0
    let put = 0
    for (const f of this.last.snapshot.files) {
      const dest = path.join(this.target.workDir, f.path)
      if (lstat(dest) !== null) continue
      await placeVerified(this.core, f, this.target, { wait: false })
      put++
    }
    return put
  }

  /** Stop for good: a last snapshot (a clean stop loses nothing), a bounded wait for a peer to hold it, then close. */
  async close(final = true): Promise<void> {
    if (this.closed) return
    this.pause()
    if (final)
      await this.snapshot().catch((err) =>
        log.warn('last snapshot failed', { id: this.target.id, err: (err as Error).message })
      )
    this.closed = true
    await this.queue
    if (final) await this.handover(HANDOVER_TIMEOUT)
    await this.core.close()
  }

  /** Resolves once a peer holds the latest snapshot and its files' blocks, or after `timeout` ms. */
  private async handover(timeout: number): Promise<void> {
    if (this.last === null) return
    const need = [this.last.length - 1]
    for (const f of this.last.snapshot.files)
      for (let i = f.start; i < f.start + f.blocks; i++) need.push(i)
    const held = (i: number): boolean =>
      this.sent.has(i) ||
      this.core.peers.some((p) => i < p.remoteContiguousLength || p.remoteBitfield.get(i))
    const until = Date.now() + timeout
    while (Date.now() < until) {
      if (need.every(held)) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  private async take(): Promise<SnapshotResult | null> {
    const prev = new Map((this.last?.snapshot.files ?? []).map((f) => [f.path, f]))
    const files: StateFile[] = []
    // blocks no snapshot will point at: a rewrite that turned out the same, the versions this one replaces
    const dead: StateFile[] = []
    const from = this.core.length
    let appended = 0
    let size = 0
    try {
      for (const rel of listState(this.target.workDir, this.target.spec.paths)) {
        const f = await this.fileOf(rel, prev.get(rel) ?? null, this.target.limit - size)
        if (f === null) continue // gone before it was opened: recorded as absent
        appended += f.appended
        size += f.file.size
        files.push(f.file)
        if (f.wasted !== null) dead.push(f.wasted)
      }
    } catch (err) {
      await this.clear([...dead, ...files.filter((f) => f.start >= from)])
      throw err
    }
    const hash = stateHash(files)
    if (
      (this.last !== null && b4a.equals(hash, this.last.snapshot.hash)) ||
      (this.last === null && files.length === 0)
    ) {
      await this.clear(dead)
      return null
    }
    const seq = (this.last?.snapshot.seq ?? 0) + 1
    const snap: Snapshot = {
      contract: this.target.contract,
      replica: this.target.id,
      seq,
      files,
      appended,
      hash
    }
    const index = this.core.length
    // Its files are in the core, its envelope is not yet: a crash from here on leaves a snapshot open() drops.
    log.debug('snapshot writing', { id: this.target.id, seq, appended })
    const block = seal(this.identity, {
      type: 'snapshot',
      seq,
      timestamp: Date.now(),
      body: c.encode(snapshotEncoding, snap)
    })
    await this.core.append(block)
    this.last = openSnapshot(block, index, {
      node: this.identity.publicKey,
      contract: this.target.contract
    })
    for (const f of prev.values()) if (!files.some((x) => sameFile(x, f))) dead.push(f)
    // the core keeps the latest state, not its history: superseded versions are cleared (markers and snapshots stay)
    await this.clear(dead)
    const live = new Set([
      index,
      ...files.flatMap((f) => Array.from({ length: f.blocks }, (_, i) => f.start + i))
    ])
    for (const i of this.sent) if (!live.has(i)) this.sent.delete(i)
    log.debug('snapshot', { id: this.target.id, seq, files: files.length, appended })
    return { seq, appended, files: files.length, size }
  }

  private async clear(files: StateFile[]): Promise<void> {
    for (const f of files)
      if (f.blocks > 0) await clearBlocks(this.core, f.start, f.start + f.blocks)
  }

  /** One file of the state: the last snapshot's entry when unchanged, else its bytes appended as read (`wasted`: appended, yet the same as before). */
  private async fileOf(
    rel: string,
    before: StateFile | null,
    room: number
  ): Promise<{ file: StateFile; appended: number; wasted: StateFile | null } | null> {
    let fd: fs.promises.FileHandle
    try {
      fd = await fs.promises.open(
        path.join(this.target.workDir, rel),
        fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK
      )
    } catch {
      return null
    }
    try {
      const st = await fd.stat()
      if (!st.isFile()) return null
      // the workload may swap a folder for a link between listing and opening: read only what is inside its work dir
      if (!(await inside(fd, this.target.workDir))) return null
      const memo = this.memo.get(rel)
      if (
        memo !== undefined &&
        before !== null &&
        sameFile(memo.file, before) &&
        memo.size === st.size &&
        memo.mtimeMs === st.mtimeMs &&
        memo.ctimeMs === st.ctimeMs &&
        memo.ino === st.ino
      ) {
        return { file: before, appended: 0, wasted: null }
      }
      if (st.size > room)
        throw new ScitError(
          'CAPACITY',
          `the state under ${this.target.spec.paths.join(', ')} is larger than the lease's ${formatSize(this.target.limit)} of disk: not snapshotted`
        )
      // Not known from this run (a restarted node): hash it first, so an unchanged file is not appended again.
      if (
        memo === undefined &&
        before !== null &&
        before.size === st.size &&
        b4a.equals((await hashHandle(fd, st.size)).hash, before.hash)
      ) {
        this.memo.set(rel, {
          size: st.size,
          mtimeMs: st.mtimeMs,
          ctimeMs: st.ctimeMs,
          ino: st.ino,
          file: before
        })
        return { file: before, appended: 0, wasted: null }
      }
      const file = await this.append(fd, rel, st.size)
      const same =
        before !== null && before.size === file.size && b4a.equals(before.hash, file.hash)
      const kept = same ? before : file
      this.memo.set(rel, {
        size: st.size,
        mtimeMs: st.mtimeMs,
        ctimeMs: st.ctimeMs,
        ino: st.ino,
        file: kept
      })
      return { file: kept, appended: file.size, wasted: same ? file : null }
    } finally {
      await fd.close()
    }
  }

  /** A marker, then the file's chunks as read (at most `size` bytes); a file that shrank is padded with empty chunks. */
  private async append(fd: fs.promises.FileHandle, rel: string, size: number): Promise<StateFile> {
    const blocks = Math.ceil(size / STATE_CHUNK)
    await this.core.append(c.encode(blobMarkerEncoding, { tag: BLOB_MARKER, blocks, size }))
    const start = this.core.length
    const h = new FileHash()
    let batch: Buffer[] = []
    let written = 0
    for (let at = 0; at < size && written < blocks; at += STATE_CHUNK) {
      const buf = b4a.alloc(Math.min(STATE_CHUNK, size - at))
      const { bytesRead } = await fd.read(buf, 0, buf.byteLength, at)
      const chunk = buf.subarray(0, bytesRead)
      h.update(chunk)
      batch.push(chunk)
      written++
      if (batch.length >= BATCH) {
        await this.core.append(batch)
        batch = []
      }
      if (bytesRead < buf.byteLength) break
    }
    while (written < blocks) {
      batch.push(b4a.alloc(0))
      written++
    }
    if (batch.length > 0) await this.core.append(batch)
    return { path: rel, size: h.size, hash: h.digest(), start, blocks }
  }
}

/** The regular files under the declared paths, relative to the work dir, sorted; links are never followed. */
export function listState(workDir: string, paths: string[]): string[] {
  const out = new Set<string>()
  const walk = (rel: string): void => {
    const st = lstat(path.join(workDir, rel))
    if (st === null) return
    if (st.isFile()) {
      out.add(rel)
      return
    }
    if (!st.isDirectory()) return
    let names: string[]
    try {
      names = fs.readdirSync(path.join(workDir, rel))
    } catch {
      return
    }
    for (const name of names) walk(`${rel}/${name}`)
  }
  for (const p of paths) walk(p)
  return [...out].sort()
}

async function hashHandle(
  fd: fs.promises.FileHandle,
  size: number
): Promise<{ size: number; hash: Buffer }> {
  const h = new FileHash()
  const buf = b4a.alloc(STATE_CHUNK)
  for (let at = 0; at < size;) {
    const { bytesRead } = await fd.read(buf, 0, Math.min(STATE_CHUNK, size - at), at)
    if (bytesRead === 0) break
    h.update(buf.subarray(0, bytesRead))
    at += bytesRead
  }
  return { size: h.size, hash: h.digest() }
}

/** Is the opened file under `dir`, whatever links led to it? (Linux: /proc/self/fd names what was opened.) */
async function inside(fd: fs.promises.FileHandle, dir: string): Promise<boolean> {
  try {
    const real = await fs.promises.readlink(`/proc/self/fd/${fd.fd}`)
    return real.startsWith(fs.realpathSync(dir) + path.sep)
  } catch {
    return false
  }
}

function sameFile(a: StateFile, b: StateFile): boolean {
  return a.start === b.start && a.size === b.size && b4a.equals(a.hash, b.hash)
}

function lstat(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p)
  } catch {
    return null
  }
}
