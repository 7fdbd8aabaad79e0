/**
 * From a trade to something the supervisor may run (docs/ARCHITECTURE.md "Execution"): each check a
 * VerificationError the status core records. Files are staged under their hash and re-hashed before
 * every start; a mismatch is local tampering, refused. The work dir is never trusted, only replaced.
 */
import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import type Hypercore from 'hypercore'
import {
  readContract,
  ContractView,
  ContractState,
  ManifestWorkload,
  VerificationError,
  hashFile
} from '../lib/contract'
import { decodeKey } from '../lib/keys'
import { isSafePath, clashingPaths } from '../lib/work-paths'
import { kindEntry } from '../lib/workload-kinds'
import { TradeRefusal, workloadFor } from '../lib/trade-workload'
import type { Trade } from '../market/types'
import { readCatalog, type Catalog } from '../lib/archive/catalog'
import type { WorkloadSpec } from './workload'

export interface Verified {
  view: ContractView
  state: ContractState
  workload: ManifestWorkload
  replica: number
  /** kind archive: its catalog, every record checked. */
  catalog: Catalog | null
}

/**
 * Why a node does not run a lease yet, as its status core says it: 'refused' is for good (the contract, its files or
 * the trade are wrong: its bot replaces the lease), 'verifying' is still trying (a settlement, approvals, a file or a
 * snapshot that may yet arrive, or an error that judged nothing, such as a read cut short by a stop).
 */
export function refusalState(err: unknown): 'verifying' | 'refused' {
  const reason = (err as { reason?: unknown } | null)?.reason
  const judged = err instanceof VerificationError || err instanceof TradeRefusal
  return judged && typeof reason === 'string' && !PASSING.has(reason) ? 'refused' : 'verifying'
}

/** Refusals a later append, approval or peer may cure. */
const PASSING: ReadonlySet<string> = new Set([
  'not-final',
  'not-settled',
  'no-deploy',
  'no-header',
  'threshold-not-reached',
  'file-unavailable',
  'snapshot-unavailable'
])

/** Only the final (indexed) ledger decides, so an op no indexer has ordered never makes the node run anything. */
export function checkTrade(final: Trade | null, node: string): Trade {
  if (final === null)
    throw new TradeRefusal('not-final', 'the trade is not in the final ledger yet')
  if (final.node !== node)
    throw new TradeRefusal('wrong-node', `the trade is assigned to ${final.node}, not this node`)
  if (final.state !== 'settled' || final.contract === null || final.manifest === null) {
    throw new TradeRefusal(
      'not-settled',
      `the trade is ${final.state}, not settled with a contract`
    )
  }
  return final
}

export async function verifyContract(core: Hypercore, trade: Trade): Promise<Verified> {
  const coreKey = decodeKey(trade.contract ?? '', 'contract core')
  if (!b4a.equals(core.key, coreKey))
    throw new VerificationError('wrong-core', "the core is not the trade's contract")
  const view = await readContract(core, {
    coreKey,
    botKey: decodeKey(trade.bot, 'bot key'),
    manifestHash: b4a.from(trade.manifest ?? '', 'hex')
  })
  const state = view.state()
  view.requireApproved(state.manifestHash)
  const workload = workloadFor(view, state, trade)
  const catalog = workload.archive === null ? null : readCatalog(view.archive, workload)
  return { view, state, workload, replica: trade.replica, catalog }
}

/** Named by its hash, so a name stands for one content and versions never overwrite each other. */
export function stagedFile(staging: string, hash: Buffer): string {
  return path.join(staging, b4a.toString(hash, 'hex'))
}

/** Bring the staged files of `v` up to date, fetching only what is missing, and re-verify every one. */
export async function stageFiles(
  v: Verified,
  staging: string,
  progress?: (text: string) => void
): Promise<void> {
  if (!v.state.deploy) throw new TradeRefusal('no-deploy', 'no deploy instruction yet')
  fs.mkdirSync(staging, { recursive: true, mode: 0o700 })
  for (const ref of v.state.deploy.files.filter((f) => f.workload === v.workload.name)) {
    const dest = stagedFile(staging, ref.hash)
    if (fs.existsSync(dest)) {
      await requireStaged(dest, ref.path, ref.size, ref.hash)
      continue
    }
    // renamed once verified: a crash mid-fetch never leaves bytes under a hash's name
    const part = `${dest}.part`
    fs.rmSync(part, { force: true })
    await v.view.fetchFile(ref, part, (bytes) =>
      progress?.(`fetching ${ref.path}: ${bytes} of ${ref.size} bytes`)
    )
    fs.renameSync(part, dest)
  }
}

async function requireStaged(
  file: string,
  name: string,
  size: number,
  hash: Buffer
): Promise<void> {
  if (!fs.existsSync(file))
    throw new VerificationError(
      'file-hash-mismatch',
      `${name}: no verified copy of it hashes to ${b4a.toString(hash, 'hex')}`
    )
  const have = await hashFile(file)
  if (have.size === size && b4a.equals(have.hash, hash)) return
  throw new VerificationError(
    'file-hash-mismatch',
    `${name}: its staged copy ${file} was altered on this node's disk after it was verified; refusing to run it (remove it to fetch the file again)`
  )
}

/** Remove staged copies the workload no longer ships. */
export function pruneStaging(v: Verified, staging: string): void {
  const keep = new Set(v.workload.files.map((f) => path.basename(stagedFile(staging, f.hash))))
  let names: string[]
  try {
    names = fs.readdirSync(staging)
  } catch {
    return
  }
  for (const name of names)
    if (!keep.has(name)) fs.rmSync(path.join(staging, name), { recursive: true, force: true })
}

/** Replace the workload's shipped files in its work dir with the verified staged copies. */
export async function placeFiles(v: Verified, staging: string, workDir: string): Promise<void> {
  // checkManifest refused these already; a write outside the work dir is too much to leave to one check
  const names = v.workload.files.map((f) => f.path)
  const clash = clashingPaths(names)
  for (const p of names)
    if (!isSafePath(p) || path.relative(workDir, path.join(workDir, p)).startsWith('..'))
      throw new VerificationError('bad-manifest', `file path "${p}" would leave the work dir`)
  if (clash)
    throw new VerificationError(
      'bad-manifest',
      `files "${clash[0]}" and "${clash[1]}" would land on one file in the work dir`
    )
  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 })
  for (const f of v.workload.files) {
    const src = stagedFile(staging, f.hash)
    await requireStaged(src, f.path, f.size, f.hash)
    const parts = f.path.split('/')
    let dir = workDir
    for (const part of parts.slice(0, -1)) {
      dir = path.join(dir, part)
      const st = lstat(dir)
      if (st !== null && !st.isDirectory()) fs.rmSync(dir, { recursive: true, force: true })
      if (st === null || !st.isDirectory()) fs.mkdirSync(dir, { mode: 0o700 })
    }
    const dest = path.join(dir, parts[parts.length - 1])
    fs.rmSync(dest, { recursive: true, force: true })
    // COPYFILE_EXCL: never through a link the workload planted
    fs.copyFileSync(src, dest, fs.constants.COPYFILE_EXCL)
  }
}

function lstat(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p)
  } catch {
    return null
  }
}

/** The runtime spec of a verified workload; the cores a keeper keeps are the daemon's to add. */
export function specFor(id: string, w: ManifestWorkload): WorkloadSpec {
  const { kind, resources } = w
  if (kindEntry(kind).runner !== 'process')
    return { id, kind, command: [], env: {}, ports: [], restart: 'never', resources, output: null }
  return {
    id,
    kind,
    command: w.command,
    env: w.env,
    ports: w.ports,
    restart: w.restart,
    resources,
    output: w.output
  }
}
