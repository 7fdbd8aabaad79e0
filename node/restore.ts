/** A heal's restore (docs/ARCHITECTURE.md "State in the notary"): placed only once every file verified. */
import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import { encodeKey, shortKey } from '../lib/keys'
import { logger } from '../lib/log'
import { VerificationError, RestoreRef } from '../lib/contract'
import { Snapshot, StateFile, openSnapshot, readFile, stateSize } from '../lib/state-core'

const log = logger('node/restore')

/** How long a restore waits for a block of the old replica's state core. */
export const RESTORE_TIMEOUT = 20_000

/**
 * Restore the snapshot `ref` names into `workDir`, or refuse it: signed by `ref.node` (the caller
 * checked it ran `ref.from`) for this contract and replica; each file fetched into `staging` and hashed.
 */
export async function restore(
  store: Corestore,
  ref: RestoreRef,
  expect: { contract: Buffer; replica: string },
  dirs: { staging: string; workDir: string },
  opts: { timeout?: number; found?: (core: Hypercore) => void } = {}
): Promise<Snapshot> {
  const timeout = opts.timeout ?? RESTORE_TIMEOUT
  const core = store.get({ key: ref.core })
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
    const at = openSnapshot(block, last, {
      node: ref.node,
      contract: expect.contract,
      replica: expect.replica
    })
    const s = at.snapshot
    if (s.seq !== ref.seq || !b4a.equals(s.hash, ref.hash)) {
      throw new VerificationError(
        'snapshot-mismatch',
        `block ${last} of ${shortKey(ref.core)} is snapshot ${s.seq} of hash ${s.hash.toString('hex').slice(0, 16)}…, the contract names snapshot ${ref.seq} of ${ref.hash.toString('hex').slice(0, 16)}…`
      )
    }
    fs.rmSync(dirs.staging, { recursive: true, force: true })
    fs.mkdirSync(dirs.staging, { recursive: true, mode: 0o700 })
    const staged: Array<{ file: StateFile; at: string }> = []
    for (const f of s.files) {
      const dest = path.join(dirs.staging, String(staged.length))
      await readFile(core, f, dest, { wait: true, timeout })
      staged.push({ file: f, at: dest })
    }
    for (const { file, at } of staged) placeFile(at, dirs.workDir, file.path)
    fs.rmSync(dirs.staging, { recursive: true, force: true })
    log.info('restored', {
      replica: expect.replica,
      from: ref.from,
      seq: s.seq,
      files: s.files.length,
      size: stateSize(s.files),
      node: encodeKey(ref.node)
    })
    return s
  } finally {
    await core.close()
  }
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
