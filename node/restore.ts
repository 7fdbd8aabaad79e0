/** A heal's restore (docs/ARCHITECTURE.md "State in the notary"): placed only once every file verified. */
import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import { encodeKey, shortKey } from '../lib/keys'
import { workloadId } from '../lib/trade-workload'
import { logger } from '../lib/log'
import { VerificationError, RestoreRef } from '../lib/contract'
import { settleWithin } from '../lib/timeout'
import {
  Snapshot,
  SnapshotAt,
  StateFile,
  openSnapshot,
  readFile,
  scanState,
  stateSize
} from '../lib/state-core'

const log = logger('node/restore')

/** How long a restore waits for a block of the old replica's state core. */
export const RESTORE_TIMEOUT = 20_000

/** How long a heal looks for a later snapshot than the one it names, from the old replica's node (or the one that continued it). */
export const NEWER_WAIT = 15_000

/** Until when (Date.now() ms) to look for a later snapshot; `gone`: the old node cannot be dialled (no use waiting on). */
export interface Newer {
  until: number
  gone?: () => boolean
}

/** What a restore placed: `snapshot.seq` may be later than the `named` one, or of the replica that `continued` it. */
export interface Restored {
  snapshot: Snapshot
  named: number
  /** The trade whose own snapshot was placed: a replica restored from the same one before, that ran on after it. */
  continued: string | null
}

/**
 * A replica that took over from the one a restore names, the state core its node signs its snapshots on, and how long
 * to look for them there.
 */
export interface Continued {
  trade: string
  node: Buffer
  core: Buffer
  newer: Newer
}

/**
 * Restore the snapshot `ref` names into `workDir`, or refuse it: signed by `ref.node` (the caller
 * checked it ran `ref.from`) for this contract and replica; each file fetched into `staging` and hashed.
 * The named snapshot is a floor (the last the bot could copy): with `newer`, a later snapshot of the same
 * core, signed by the same node, shown by a peer before `newer.until`, is restored instead.
 */
export async function restore(
  store: Corestore,
  ref: RestoreRef,
  expect: { contract: Buffer; replica: string },
  dirs: { staging: string; workDir: string },
  opts: {
    timeout?: number
    newer?: Newer
    found?: (core: Hypercore) => void
    continued?: Continued | null
  } = {}
): Promise<Restored> {
  const timeout = opts.timeout ?? RESTORE_TIMEOUT
  if (opts.continued != null) {
    const placed = await restoreContinued(store, opts.continued, ref, expect, dirs, timeout)
    if (placed !== null) return placed
  }
  const core = store.get({ key: ref.core })
  const signer = { node: ref.node, contract: expect.contract, replica: expect.replica }
  try {
    await core.ready()
    opts.found?.(core)
    const last = ref.length - 1
    let block: Buffer | null = null
    try {
      block = await core.get(last, { wait: true, timeout })
    } catch {}
    if (block === null)
      throw new VerificationError(
        'snapshot-unavailable',
        `block ${last} of state core ${shortKey(ref.core)} could not be fetched in ${timeout} ms`
      )
    const s = openSnapshot(block, last, signer).snapshot
    if (s.seq !== ref.seq || !b4a.equals(s.hash, ref.hash)) {
      throw new VerificationError(
        'snapshot-mismatch',
        `block ${last} of ${shortKey(ref.core)} is snapshot ${s.seq} of hash ${s.hash.toString('hex').slice(0, 16)}…, the contract names snapshot ${ref.seq} of ${ref.hash.toString('hex').slice(0, 16)}…`
      )
    }
    const later = opts.newer !== undefined ? await newest(core, ref, signer, opts.newer) : null
    if (later !== null) {
      try {
        await place(core, later, dirs, timeout)
        return done(later, ref, expect.replica, null)
      } catch (err) {
        log.warn('later snapshot not restored', {
          replica: expect.replica,
          seq: later.seq,
          err: (err as Error).message
        })
      }
    }
    await place(core, s, dirs, timeout)
    return done(s, ref, expect.replica, null)
  } finally {
    await core.close()
  }
}

/**
 * The newest snapshot the node of `c` signed for its replica, placed, or null (none shown before `newer.until`, or
 * not placed): the bot never read that replica's state core (it ran its whole life while the bot was stopped or cut
 * off), so it named the snapshot of the replica before it, and only that replica's node holds what came after
 * (the soak, seed 2700 on a44180e: a CRM lost 37 writes made 20-36 s before its node was cut off).
 */
async function restoreContinued(
  store: Corestore,
  c: Continued,
  ref: RestoreRef,
  expect: { contract: Buffer; replica: string },
  dirs: { staging: string; workDir: string },
  timeout: number
): Promise<Restored | null> {
  const core = store.get({ key: c.core })
  const signer = { node: c.node, contract: expect.contract, replica: workloadId({ id: c.trade }) }
  try {
    await core.ready()
    const found = await newest(core, { node: c.node, length: 0, seq: 0 }, signer, c.newer)
    if (found === null) return null
    await place(core, found, dirs, timeout)
    return done(found, ref, expect.replica, c)
  } catch (err) {
    log.warn('the snapshot of the replica that continued was not restored', {
      replica: expect.replica,
      continued: c.trade,
      err: (err as Error).message
    })
    return null
  } finally {
    await core.close()
  }
}

function done(
  s: Snapshot,
  ref: RestoreRef,
  replica: string,
  continued: Continued | null
): Restored {
  log.info('restored', {
    replica,
    from: continued?.trade ?? ref.from,
    seq: s.seq,
    named: ref.seq,
    files: s.files.length,
    size: stateSize(s.files),
    node: encodeKey(continued?.node ?? ref.node)
  })
  return { snapshot: s, named: ref.seq, continued: continued?.trade ?? null }
}

/** Every file of `s` fetched and verified into staging, then placed: nothing is placed unless all verified. */
async function place(
  core: Hypercore,
  s: Snapshot,
  dirs: { staging: string; workDir: string },
  timeout: number
): Promise<void> {
  fs.rmSync(dirs.staging, { recursive: true, force: true })
  fs.mkdirSync(dirs.staging, { recursive: true, mode: 0o700 })
  const staged: Array<{ file: StateFile; at: string }> = []
  try {
    for (const f of s.files) {
      const dest = path.join(dirs.staging, String(staged.length))
      await readFile(core, f, dest, { wait: true, timeout })
      staged.push({ file: f, at: dest })
    }
    for (const { file, at } of staged) placeFile(at, dirs.workDir, file.path)
  } finally {
    fs.rmSync(dirs.staging, { recursive: true, force: true })
  }
}

/**
 * The latest snapshot after `ref` on its core, or null: the old node (the one peer sure to hold what it signed
 * last, while it lives) gets until `newer.until` to connect and show its length. A later block that is not a
 * snapshot that node signed for this replica is not taken (the named one is restored).
 */
async function newest(
  core: Hypercore,
  ref: Pick<RestoreRef, 'node' | 'length' | 'seq'>,
  signer: { node: Buffer; contract: Buffer; replica: string },
  newer: Newer
): Promise<Snapshot | null> {
  const until = newer.until
  const left = (): number => Math.max(1, until - Date.now())
  while (
    Date.now() < until &&
    newer.gone?.() !== true &&
    !core.peers.some((p) => b4a.equals(p.remotePublicKey, ref.node))
  )
    await new Promise((resolve) => setTimeout(resolve, Math.min(100, left())))
  await settleWithin(core.update({ wait: true }), left())
  if (core.length <= ref.length) return null
  let found: SnapshotAt | null = null
  try {
    const block = await core.get(core.length - 1, { wait: true, timeout: left() })
    if (block !== null) found = openSnapshot(block, core.length - 1, signer)
  } catch {}
  if (found === null) {
    // its tail is a snapshot cut short (a crash mid-write): the last whole one before it
    try {
      const scan = await scanState(core, ref.length, signer, { wait: true, timeout: left() })
      found = scan.snapshots[scan.snapshots.length - 1] ?? null
    } catch {}
  }
  return found !== null && found.snapshot.seq > ref.seq ? found.snapshot : null
}

/** Verify one file of a local core into place, through the node's staging dir: never a path the workload could have planted a link at. */
export async function placeVerified(
  core: Hypercore,
  f: StateFile,
  target: { staging: string; workDir: string },
  opts: { wait: boolean }
): Promise<void> {
  fs.mkdirSync(target.staging, { recursive: true, mode: 0o700 })
  const tmp = path.join(target.staging, 'resume')
  fs.rmSync(tmp, { force: true })
  await readFile(core, f, tmp, opts)
  placeFile(tmp, target.workDir, f.path)
}

/** Move a verified file to `rel` under the work dir, which the workload controls: what is in the way is replaced, never followed. */
function placeFile(src: string, workDir: string, rel: string): void {
  const parts = rel.split('/')
  if (parts.some((p) => p === '' || p === '.' || p === '..'))
    throw new VerificationError('bad-snapshot', `"${rel}" is not a path inside the work dir`)
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

function lstat(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p)
  } catch {
    return null
  }
}
