/**
 * A service's declared state, kept in a per-replica state core the node
 * signs (ARCHITECTURE §10, format in lib/state.ts). Every `interval`, and
 * once more when the service stops, the keeper appends what changed under
 * the declared paths: each changed file read once, hashed as it is read,
 * its chunks appended as they are read, then a signed snapshot naming every
 * file of the state. Files whose size, mtime, ctime and inode did not change
 * since the last snapshot are not read again.
 *
 * A replacement replica starts from a snapshot its contract names (restore):
 * the node fetches the old replica's state core from whoever holds it (the
 * bot keeps a copy), checks the snapshot against the node that signed it and
 * every file against its hash, and only then places the files. A node that
 * restarts continues its own core and restores nothing from elsewhere.
 */
import fs from 'fs'
import path from 'path'
import c from 'compact-encoding'
import b4a from 'b4a'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import type Hyperswarm from 'hyperswarm'
import { seal } from '../lib/envelope'
import { ScitError } from '../lib/errors'
import type { KeyPair } from '../lib/identity'
import { encodeKey, shortKey } from '../lib/keys'
import { logger } from '../lib/log'
import { formatSize } from '../lib/resources'
import { FileHash, VerificationError, blobMarkerEncoding, BLOB_MARKER, RestoreRef, StateSpec, ContractView, ManifestWorkload } from '../lib/contract'
import { workloadId } from '../lib/trade-workload'
import type { Trade } from '../market/types'
import { Snapshot, SnapshotAt, StateFile, STATE_CHUNK, scanState, openSnapshot, readFile, stateHash, stateSize, snapshotEncoding } from '../lib/state'

const log = logger('node/state')

/** Chunks per append: fewer tree updates without holding much memory (1 MiB). */
const BATCH = 16
/** How long a clean stop waits for a peer to hold its last snapshot. */
export const HANDOVER_TIMEOUT = 2000
/** How long a restore waits for a block of the old replica's state core. */
export const RESTORE_TIMEOUT = 20_000

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

interface Memo { size: number; mtimeMs: number; ctimeMs: number; ino: number; file: StateFile }

/** What a snapshot did: bench and tests read it. */
export interface SnapshotResult { seq: number; appended: number; files: number; size: number }

export class StateKeeper {
  readonly core: Hypercore
  /** The latest snapshot on this core. */
  last: SnapshotAt | null = null
  private readonly memo = new Map<string, Memo>()
  private timer: NodeJS.Timeout | null = null
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  constructor (store: Corestore, private readonly identity: KeyPair, readonly target: StateTarget) {
    this.core = store.get({ name: `state/${target.id}` })
  }

  get key (): Buffer { return this.core.key }

  /** Open the core and find its last snapshot; a file cut short by a crash is dropped, so the next one frames right. */
  async open (): Promise<void> {
    await this.core.ready()
    const scan = await scanState(this.core, 0, { node: this.identity.publicKey, contract: this.target.contract, replica: this.target.id })
    this.last = scan.snapshots[scan.snapshots.length - 1] ?? null
    if (scan.next < this.core.length) await this.core.truncate(scan.next)
  }

  /** Snapshot every `interval` ms from now on. */
  start (): void {
    if (this.timer !== null || this.closed) return
    this.timer = setInterval(() => { this.snapshot().catch(err => log.warn('snapshot failed', { id: this.target.id, err: (err as Error).message })) }, this.target.spec.interval)
    this.timer.unref()
  }

  /** Stop the interval (the service stopped); what is queued still runs. */
  pause (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** Take a snapshot now if anything changed; resolves with it, or null when nothing changed. One at a time. */
  snapshot (): Promise<SnapshotResult | null> {
    const run = this.queue.then(() => this.closed ? null : this.take())
    this.queue = run.catch(() => {})
    return run
  }

  /**
   * Files the restarted node's own last snapshot holds that are missing from
   * the work dir are put back from its own core (the work dir survived a
   * restart, or did not): nothing is fetched from elsewhere.
   */
  async resume (): Promise<number> {
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
  async close (final = true): Promise<void> {
    if (this.closed) return
    this.pause()
    if (final) await this.snapshot().catch(err => log.warn('last snapshot failed', { id: this.target.id, err: (err as Error).message }))
    this.closed = true
    await this.queue
    if (final) await this.handover(HANDOVER_TIMEOUT)
    await this.core.close()
  }

  /** Resolves once a peer holds every block, or after `timeout` ms. */
  private async handover (timeout: number): Promise<void> {
    const until = Date.now() + timeout
    const length = this.core.length
    while (length > 0 && Date.now() < until) {
      if (this.core.peers.some(p => p.remoteContiguousLength >= length)) return
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }

  private async take (): Promise<SnapshotResult | null> {
    const prev = new Map((this.last?.snapshot.files ?? []).map(f => [f.path, f]))
    const files: StateFile[] = []
    let appended = 0
    let size = 0
    for (const rel of listState(this.target.workDir, this.target.spec.paths)) {
      const f = await this.fileOf(rel, prev.get(rel) ?? null, this.target.limit - size)
      if (f === null) continue // gone before it was opened: recorded as absent
      appended += f.appended
      size += f.file.size
      files.push(f.file)
    }
    const hash = stateHash(files)
    if (this.last !== null && b4a.equals(hash, this.last.snapshot.hash)) return null
    if (this.last === null && files.length === 0) return null
    const seq = (this.last?.snapshot.seq ?? 0) + 1
    const snap: Snapshot = { contract: this.target.contract, replica: this.target.id, seq, files, appended, hash }
    const index = this.core.length
    const block = seal(this.identity, { type: 'snapshot', seq, timestamp: Date.now(), body: c.encode(snapshotEncoding, snap) })
    await this.core.append(block)
    this.last = openSnapshot(block, index, { node: this.identity.publicKey, contract: this.target.contract })
    log.debug('snapshot', { id: this.target.id, seq, files: files.length, appended })
    return { seq, appended, files: files.length, size }
  }

  /** One file of the state: the last snapshot's entry when unchanged, else its bytes appended as read. */
  private async fileOf (rel: string, before: StateFile | null, room: number): Promise<{ file: StateFile, appended: number } | null> {
    let fd: fs.promises.FileHandle
    try {
      fd = await fs.promises.open(path.join(this.target.workDir, rel), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
    } catch {
      return null
    }
    try {
      const st = await fd.stat()
      if (!st.isFile()) return null
      // the workload may swap a folder for a link between listing and opening: read only what is inside its work dir
      if (!(await inside(fd, this.target.workDir))) return null
      const memo = this.memo.get(rel)
      if (memo !== undefined && before !== null && sameFile(memo.file, before) && memo.size === st.size && memo.mtimeMs === st.mtimeMs && memo.ctimeMs === st.ctimeMs && memo.ino === st.ino) {
        return { file: before, appended: 0 }
      }
      if (st.size > room) throw new ScitError('CAPACITY', `the state under ${this.target.spec.paths.join(', ')} is larger than the lease's ${formatSize(this.target.limit)} of disk: not snapshotted`)
      // Not known from this run (a restarted node): hash it first, so an unchanged file is not appended again.
      if (memo === undefined && before !== null && before.size === st.size && b4a.equals((await hashHandle(fd, st.size)).hash, before.hash)) {
        this.memo.set(rel, { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, file: before })
        return { file: before, appended: 0 }
      }
      const file = await this.append(fd, rel, st.size)
      const same = before !== null && before.size === file.size && b4a.equals(before.hash, file.hash)
      const kept = same ? before : file
      this.memo.set(rel, { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, file: kept })
      return { file: kept, appended: file.size }
    } finally {
      await fd.close()
    }
  }

  /** A marker, then the file's chunks as read (at most `size` bytes); a file that shrank is padded with empty chunks. */
  private async append (fd: fs.promises.FileHandle, rel: string, size: number): Promise<StateFile> {
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
      if (batch.length >= BATCH) { await this.core.append(batch); batch = [] }
      if (bytesRead < buf.byteLength) break
    }
    while (written < blocks) { batch.push(b4a.alloc(0)); written++ }
    if (batch.length > 0) await this.core.append(batch)
    return { path: rel, size: h.size, hash: h.digest(), start, blocks }
  }
}

/** The regular files under the declared paths, relative to the work dir, sorted; links are never followed. */
export function listState (workDir: string, paths: string[]): string[] {
  const out = new Set<string>()
  const walk = (rel: string): void => {
    const st = lstat(path.join(workDir, rel))
    if (st === null) return
    if (st.isFile()) { out.add(rel); return }
    if (!st.isDirectory()) return
    let names: string[] = []
    try { names = fs.readdirSync(path.join(workDir, rel)) } catch { return }
    for (const name of names) walk(`${rel}/${name}`)
  }
  for (const p of paths) walk(p)
  return [...out].sort()
}

/**
 * Restore the snapshot `ref` names into `workDir`, or refuse it: the old
 * replica's node (`ref.node`, which the caller checked ran trade `ref.from`)
 * signed it, for this contract and that replica, at that sequence and total
 * hash; each file is fetched into `staging`, hashed, and placed only once all
 * of them verified. Resolves with the verified snapshot.
 */
export async function restore (store: Corestore, ref: RestoreRef, expect: { contract: Buffer, replica: string }, dirs: { staging: string, workDir: string }, opts: { timeout?: number, found?: (core: Hypercore) => void } = {}): Promise<Snapshot> {
  const timeout = opts.timeout ?? RESTORE_TIMEOUT
  const core = store.get({ key: ref.core })
  try {
    await core.ready()
    opts.found?.(core)
    const last = ref.length - 1
    let block: Buffer | null = null
    try { block = await core.get(last, { wait: true, timeout }) } catch {}
    if (block === null) throw new VerificationError('snapshot-unavailable', `block ${last} of state core ${shortKey(ref.core)} could not be fetched in ${timeout} ms`)
    const at = openSnapshot(block, last, { node: ref.node, contract: expect.contract, replica: expect.replica })
    const s = at.snapshot
    if (s.seq !== ref.seq || !b4a.equals(s.hash, ref.hash)) {
      throw new VerificationError('snapshot-mismatch', `block ${last} of ${shortKey(ref.core)} is snapshot ${s.seq} of hash ${s.hash.toString('hex').slice(0, 16)}…, the contract names snapshot ${ref.seq} of ${ref.hash.toString('hex').slice(0, 16)}…`)
    }
    fs.rmSync(dirs.staging, { recursive: true, force: true })
    fs.mkdirSync(dirs.staging, { recursive: true, mode: 0o700 })
    const staged: Array<{ file: StateFile, at: string }> = []
    for (const f of s.files) {
      const dest = path.join(dirs.staging, String(staged.length))
      await readFile(core, f, dest, { wait: true, timeout })
      staged.push({ file: f, at: dest })
    }
    for (const { file, at } of staged) placeFile(at, dirs.workDir, file.path)
    fs.rmSync(dirs.staging, { recursive: true, force: true })
    log.info('restored', { replica: expect.replica, from: ref.from, seq: s.seq, files: s.files.length, size: stateSize(s.files), node: encodeKey(ref.node) })
    return s
  } finally {
    await core.close()
  }
}

/** Verify one file of a local core into place, through the node's staging dir: never a path the workload could have planted a link at. */
async function placeVerified (core: Hypercore, f: StateFile, target: StateTarget, opts: { wait: boolean }): Promise<void> {
  fs.mkdirSync(target.staging, { recursive: true, mode: 0o700 })
  const tmp = path.join(target.staging, 'resume')
  fs.rmSync(tmp, { force: true })
  await readFile(core, f, tmp, opts)
  placeFile(tmp, target.workDir, f.path)
}

/** Move a verified file to `rel` under the work dir, which the workload controls: what is in the way is replaced, never followed. */
function placeFile (src: string, workDir: string, rel: string): void {
  const parts = rel.split('/')
  if (parts.some(p => p === '' || p === '.' || p === '..')) throw new VerificationError('bad-snapshot', `"${rel}" is not a path inside the work dir`)
  let dir = workDir
  for (const part of parts.slice(0, -1)) {
    dir = path.join(dir, part)
    const st = lstat(dir)
    if (st !== null && !st.isDirectory()) fs.rmSync(dir, { recursive: true, force: true })
    if (st === null || !st.isDirectory()) fs.mkdirSync(dir, { mode: 0o700 })
  }
  const dest = path.join(dir, parts[parts.length - 1])
  fs.rmSync(dest, { recursive: true, force: true })
  fs.copyFileSync(src, dest, fs.constants.COPYFILE_EXCL)
  fs.rmSync(src, { force: true })
}

async function hashHandle (fd: fs.promises.FileHandle, size: number): Promise<{ size: number, hash: Buffer }> {
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
async function inside (fd: fs.promises.FileHandle, dir: string): Promise<boolean> {
  try {
    const real = await fs.promises.readlink(`/proc/self/fd/${fd.fd}`)
    return real.startsWith(fs.realpathSync(dir) + path.sep)
  } catch {
    return false
  }
}

function sameFile (a: StateFile, b: StateFile): boolean {
  return a.start === b.start && a.size === b.size && b4a.equals(a.hash, b.hash)
}

function lstat (p: string): fs.Stats | null {
  try { return fs.lstatSync(p) } catch { return null }
}

/** The restore a contract names for `trade` (the last one, should a heal be re-signed), or null. */
export function restoreFor (view: ContractView, trade: string): RestoreRef | null {
  let found: RestoreRef | null = null
  for (const ins of view.instructions) for (const r of ins.restore) if (r.trade === trade) found = r
  return found
}

export interface KeepersOptions {
  store: Corestore
  swarm: Hyperswarm
  identity: KeyPair
  /** The node's data dir: restores are staged under <data>/state/<id>. */
  data: string
  /** A trade as the ledger has it: who ran the replica a restore comes from. */
  trade (id: string): Promise<Trade | null>
}

/** The state keepers of a daemon's replicas, by workload id. */
export class StateKeepers {
  private readonly keepers = new Map<string, StateKeeper>()

  constructor (private readonly o: KeepersOptions) {}

  key (id: string): Buffer | null { return this.keepers.get(id)?.key ?? null }
  get (id: string): StateKeeper | null { return this.keepers.get(id) ?? null }

  /**
   * Before replica `id` of trade `trade` starts: open its state core; a
   * replica with snapshots of its own resumes them, a fresh one restores
   * the snapshot its contract names, or refuses (VerificationError) and
   * nothing runs. Then snapshots are taken every interval.
   */
  async prepare (id: string, trade: Trade, w: ManifestWorkload, view: ContractView, workDir: string): Promise<Snapshot | null> {
    if (w.state === null) return null
    let k = this.keepers.get(id)
    if (k === undefined) {
      k = new StateKeeper(this.o.store.namespace('scit/node'), this.o.identity, { id, contract: view.core.key, spec: w.state, limit: w.resources.ssd + w.resources.hdd, workDir, staging: path.join(this.o.data, 'state', id) })
      await k.open()
      this.keepers.set(id, k)
    }
    k.pause()
    let restored: Snapshot | null = null
    const ref = restoreFor(view, trade.id)
    if (k.last !== null) await k.resume()
    else if (ref !== null) {
      const from = await this.o.trade(ref.from)
      if (from === null || from.node !== encodeKey(ref.node) || from.contract !== encodeKey(view.core.key)) {
        throw new VerificationError('bad-snapshot', `the contract restores ${trade.id} from trade ${ref.from}, which node ${shortKey(ref.node)} did not run for this contract`)
      }
      restored = await restore(this.o.store, ref, { contract: view.core.key, replica: workloadId({ id: ref.from }) }, { staging: path.join(this.o.data, 'state', id, 'restore'), workDir }, {
        found: core => { const done = core.findingPeers(); this.o.swarm.flush().then(done, done) }
      })
    }
    k.start()
    return restored
  }

  /** A run of `id` ended: snapshot what it left (the interval goes on: the supervisor may restart it). */
  stopped (id: string): void {
    const k = this.keepers.get(id)
    if (k === undefined) return
    k.snapshot().catch(err => log.warn('snapshot after stop failed', { id, err: (err as Error).message }))
  }

  /** The lease is over: a last snapshot, and the core is closed (its blocks stay for whoever replicates them). */
  async end (id: string): Promise<void> {
    const k = this.keepers.get(id)
    if (k === undefined) return
    this.keepers.delete(id)
    await k.close(true)
  }

  async close (): Promise<void> {
    await Promise.all([...this.keepers.keys()].map(id => this.end(id)))
  }
}
