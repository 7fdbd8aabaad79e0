/**
 * The per-contract notary core's records and the manifest, declared once.
 *
 * Block layout of a contract core (written only by the bot):
 *
 *   0         contract-header envelope   (ContractHeader)
 *   1…        instruction envelopes      (Instruction, envelope seq = 1, 2, 3, … contiguous)
 *             approval envelopes         (Approval, envelope seq 0: approvals are unordered)
 *             blob marker + raw chunks   a file: one marker block `0x00 ‖ blocks ‖ size`,
 *                                        then `blocks` raw chunks of CHUNK_SIZE (the last shorter)
 *
 * A marker starts with 0, an envelope with its version (1), so a reader tells
 * them apart from the first byte and skips a file's chunks without fetching
 * them. Files are appended before the deploy/update instruction that names
 * them by (start, blocks, size, hash).
 *
 * Below the encodings: the hashes and signatures over them (manifest hash,
 * file hash, stakeholder approvals) and the VerificationError every check
 * throws, so that bot and node prove and check the same bytes.
 */
import fs from 'fs'
import c from 'compact-encoding'
import b4a from 'b4a'
import sodium from 'sodium-universal'
import { struct, optional, decodeExact, enumOf, unsupportedFormat } from './codec'
import { ScitError } from './errors'
import { hash, encodeKey, shortKey } from './keys'
import { sign, verifySignature, KeyPair } from './identity'
import type { Resources } from './resources'
import { isSafePath, clashingPaths } from './work-paths'
import {
  WORKLOAD_KINDS,
  RESTART_POLICIES,
  WorkloadKind,
  RestartPolicy,
  allows,
  kindEntry,
  kindsAllowing
} from './workload-kinds'

export * from './workload-kinds'

/** 2: workloads carry `access` and `state`. */
export const MANIFEST_VERSION = 3
/** The longest a node keeps a job's output after its lease (the template's `retain`). */
export const MAX_RETAIN = 30 * 24 * 3_600_000
export const CHUNK_SIZE = 64 * 1024
export const BLOB_MARKER = 0

/** A file a workload ships: `path` is relative to the workload's work dir; hash is BLAKE2b-256 of the bytes. */
export interface ManifestFile {
  path: string
  size: number
  hash: Buffer
}

/** kind mirror: bytes to keep, and the core to copy (else the contract core). */
export interface MirrorSpec {
  size: number
  source: Buffer | null
}

/**
 * kind archive (docs/ARCHITECTURE.md "Archives"): `size` bytes in
 * `groups` placement groups, each of data + parity holders on distinct nodes,
 * each holder keeping up to `shard` bytes. Planned by the bot from the
 * template and the market.
 */
export interface ArchiveSpec {
  size: number
  data: number
  parity: number
  groups: number
  shard: number
  /** The most paid per GiB-hour of a holder's disk: its budget follows its shard. */
  price: number
}

/**
 * Who may connect to a service's ports (docs/ARCHITECTURE.md "Service access"): anyone (`public`),
 * or the listed keys and roles: 'bot' (the contract's bot), 'stakeholders'
 * (every signer), or a stakeholder role. grant/revoke instructions change it later.
 */
export interface Access {
  public: boolean
  keys: Buffer[]
  roles: string[]
}
/** What a template that says nothing about access gets: the bot and its stakeholders. */
export const DEFAULT_ACCESS: Access = { public: false, keys: [], roles: ['bot', 'stakeholders'] }

export interface ManifestWorkload {
  name: string
  kind: WorkloadKind
  files: ManifestFile[] // sorted by path
  command: string[] // argv, run without a shell; [] for an archive
  env: Record<string, string>
  ports: number[]
  restart: RestartPolicy
  resources: Resources // per replica
  replicas: number
  budget: number // max price per replica-hour, smallest unit
  mirror: MirrorSpec | null // kind mirror: bytes to keep, optional core to copy from
  output: string | null // kind job: the file whose BLAKE2b-256 the node reports
  /** How long (ms) the node keeps the output for its bot after the job's lease ended (0: no output). */
  retain: number
  access: Access // kind service with ports: who may connect
  state: StateSpec | null // kind service: the paths its node snapshots into a state core (node/state-keeper.ts)
  archive: ArchiveSpec | null // kind archive: its code and groups
}

/** What of a service's work dir is its data: files or folders, snapshotted every `interval` ms when changed. */
export interface StateSpec {
  paths: string[]
  interval: number
}

export interface Placement {
  countries: string[]
  attributes: string[]
  spread: boolean
}
export interface Stakeholder {
  key: Buffer
  role: string
  weight: number
}
/** threshold 0: no sign-off needed. */
export interface StakeholderPolicy {
  threshold: number
  signers: Stakeholder[]
}
export type ParamValue = number | string | boolean

/** A fully concrete contract: no expressions left; what stakeholders sign and nodes run. */
export interface Manifest {
  version: number // MANIFEST_VERSION
  template: { name: string; version: number }
  params: Record<string, ParamValue>
  workloads: ManifestWorkload[]
  placement: Placement
  duration: number // lease, ms
  budget: number // default max price per replica-hour
  stakeholders: StakeholderPolicy
}

export interface ContractHeader {
  core: Buffer // this core's key: the bot's signature over it binds the log to the bot
  manifestHash: Buffer
  manifest: Manifest
  trades: string[]
}

export type InstructionAction = 'deploy' | 'update' | 'scale' | 'stop' | 'grant' | 'revoke'
export const INSTRUCTION_ACTIONS: readonly InstructionAction[] = [
  'deploy',
  'update',
  'scale',
  'stop',
  'grant',
  'revoke'
]

/** grant/revoke: one key's access to one workload's ports ('' : every workload of the contract). */
export interface Grant {
  workload: string
  key: Buffer
}

/** Where a file's bytes sit in the core. */
export interface BlobRef {
  workload: string
  path: string
  start: number
  blocks: number
  size: number
  hash: Buffer
}

/**
 * Where a replacement replica's data comes from (a heal): the snapshot the
 * bot verified last on the lost replica's state core, as `length` blocks of
 * that core ending in the node's signed snapshot `seq` of total `hash`. The
 * new node checks that `node` ran trade `from` of this contract, then every
 * hash, before its service starts (node/state-keeper.ts).
 */
export interface RestoreRef {
  trade: string
  from: string
  node: Buffer
  core: Buffer
  length: number
  seq: number
  hash: Buffer
}

export interface Instruction {
  action: InstructionAction
  manifestHash: Buffer // the manifest this applies to
  manifest: Manifest | null // update: the new manifest (its hash is manifestHash)
  files: BlobRef[] // deploy, update: every file of the manifest
  scale: Array<{ workload: string; replicas: number }>
  trades: string[] // the trades this instruction addresses (empty: all)
  reason: string // stop: why
  grant: Grant | null // grant, revoke: whose access
  restore: RestoreRef[] // scale: the snapshot each new trade starts from
}

/** A stakeholder's signature over a manifest hash; appended by the bot, signed by the stakeholder. */
export interface Approval {
  stakeholder: Buffer
  role: string
  manifestHash: Buffer
  signature: Buffer
}

export interface BlobMarker {
  tag: number
  blocks: number
  size: number
}

// ---------------------------------------------------------------------------

/** A string map as sorted pairs, so that one map has one encoding. */
function record<T>(enc: c.Encoding<T>): c.Encoding<Record<string, T>> {
  const entries = c.array(
    struct<{ k: string; v: T }>([
      ['k', c.string],
      ['v', enc]
    ])
  )
  const sorted = (r: Record<string, T>): Array<{ k: string; v: T }> =>
    Object.keys(r)
      .sort()
      .map((k) => ({ k, v: r[k] }))
  return {
    preencode(state, r) {
      entries.preencode(state, sorted(r))
    },
    encode(state, r) {
      entries.encode(state, sorted(r))
    },
    decode(state) {
      const out: Record<string, T> = {}
      for (const { k, v } of entries.decode(state)) out[k] = v
      return out
    }
  }
}

const paramValue: c.Encoding<ParamValue> = {
  preencode(state, v) {
    c.uint.preencode(state, 0)
    if (typeof v === 'number') c.int.preencode(state, v)
    else if (typeof v === 'string') c.string.preencode(state, v)
    else c.bool.preencode(state, v)
  },
  encode(state, v) {
    if (typeof v === 'number') {
      c.uint.encode(state, 0)
      c.int.encode(state, v)
    } else if (typeof v === 'string') {
      c.uint.encode(state, 1)
      c.string.encode(state, v)
    } else {
      c.uint.encode(state, 2)
      c.bool.encode(state, v)
    }
  },
  decode(state) {
    const tag = c.uint.decode(state)
    if (tag === 0) return c.int.decode(state)
    if (tag === 1) return c.string.decode(state)
    if (tag === 2) return c.bool.decode(state)
    throw new Error(`parameter tag ${tag} unknown`)
  }
}

const resources = struct<Resources>([
  ['cpu', c.uint],
  ['memory', c.uint],
  ['ssd', c.uint],
  ['hdd', c.uint],
  ['ipv4', c.uint],
  ['gpu', c.uint]
])
const manifestFile = struct<ManifestFile>([
  ['path', c.string],
  ['size', c.uint],
  ['hash', c.fixed32]
])
const mirrorSpec = struct<MirrorSpec>([
  ['size', c.uint],
  ['source', optional(c.fixed32)]
])
const archiveSpec = struct<ArchiveSpec>([
  ['size', c.uint],
  ['data', c.uint],
  ['parity', c.uint],
  ['groups', c.uint],
  ['shard', c.uint],
  ['price', c.uint]
])

const workload = struct<ManifestWorkload>([
  ['name', c.string],
  ['kind', enumOf(WORKLOAD_KINDS)],
  ['files', c.array(manifestFile)],
  ['command', c.array(c.string)],
  ['env', record(c.string)],
  ['ports', c.array(c.uint)],
  ['restart', enumOf(RESTART_POLICIES)],
  ['resources', resources],
  ['replicas', c.uint],
  ['budget', c.uint],
  ['mirror', optional(mirrorSpec)],
  ['output', optional(c.string)],
  ['retain', c.uint],
  [
    'access',
    struct<Access>([
      ['public', c.bool],
      ['keys', c.array(c.fixed32)],
      ['roles', c.array(c.string)]
    ])
  ],
  [
    'state',
    optional(
      struct<StateSpec>([
        ['paths', c.array(c.string)],
        ['interval', c.uint]
      ])
    )
  ],
  ['archive', optional(archiveSpec)]
])

const stakeholder = struct<Stakeholder>([
  ['key', c.fixed32],
  ['role', c.string],
  ['weight', c.uint]
])

const manifestFields = struct<Manifest>([
  ['version', c.uint],
  [
    'template',
    struct<Manifest['template']>([
      ['name', c.string],
      ['version', c.uint]
    ])
  ],
  ['params', record(paramValue)],
  ['workloads', c.array(workload)],
  [
    'placement',
    struct<Placement>([
      ['countries', c.array(c.string)],
      ['attributes', c.array(c.string)],
      ['spread', c.bool]
    ])
  ],
  ['duration', c.uint],
  ['budget', c.uint],
  [
    'stakeholders',
    struct<StakeholderPolicy>([
      ['threshold', c.uint],
      ['signers', c.array(stakeholder)]
    ])
  ]
])

/** Its version is read first: a manifest of another format is UNSUPPORTED, never decoded as this one. */
export const manifestEncoding: c.Encoding<Manifest> = {
  preencode: manifestFields.preencode,
  encode: manifestFields.encode,
  decode(state) {
    const start = state.start
    const version = c.uint.decode(state)
    if (version !== MANIFEST_VERSION) throw unsupportedFormat('manifest', version, MANIFEST_VERSION)
    state.start = start
    return manifestFields.decode(state)
  }
}

export const headerEncoding = struct<ContractHeader>([
  ['core', c.fixed32],
  ['manifestHash', c.fixed32],
  ['manifest', manifestEncoding],
  ['trades', c.array(c.string)]
])

export const blobRefEncoding = struct<BlobRef>([
  ['workload', c.string],
  ['path', c.string],
  ['start', c.uint],
  ['blocks', c.uint],
  ['size', c.uint],
  ['hash', c.fixed32]
])

export const instructionEncoding = struct<Instruction>([
  ['action', enumOf(INSTRUCTION_ACTIONS)],
  ['manifestHash', c.fixed32],
  ['manifest', optional(manifestEncoding)],
  ['files', c.array(blobRefEncoding)],
  [
    'scale',
    c.array(
      struct<{ workload: string; replicas: number }>([
        ['workload', c.string],
        ['replicas', c.uint]
      ])
    )
  ],
  ['trades', c.array(c.string)],
  ['reason', c.string],
  [
    'grant',
    optional(
      struct<Grant>([
        ['workload', c.string],
        ['key', c.fixed32]
      ])
    )
  ],
  [
    'restore',
    c.array(
      struct<RestoreRef>([
        ['trade', c.string],
        ['from', c.string],
        ['node', c.fixed32],
        ['core', c.fixed32],
        ['length', c.uint],
        ['seq', c.uint],
        ['hash', c.fixed32]
      ])
    )
  ]
])

export const approvalEncoding = struct<Approval>([
  ['stakeholder', c.fixed32],
  ['role', c.string],
  ['manifestHash', c.fixed32],
  ['signature', c.fixed64]
])

export const blobMarkerEncoding = struct<BlobMarker>([
  ['tag', c.uint],
  ['blocks', c.uint],
  ['size', c.uint]
])

// ---------------------------------------------------------------------------
// Hashes, signatures, and what a reader refuses

export type VerificationReason =
  | 'no-header'
  | 'bad-header'
  | 'bad-header-signature'
  | 'wrong-bot'
  | 'wrong-core'
  | 'wrong-manifest'
  | 'manifest-hash-mismatch'
  | 'bad-record'
  | 'bad-signature'
  | 'foreign-author'
  | 'unexpected-type'
  | 'seq-gap'
  | 'out-of-sequence'
  | 'unknown-manifest'
  | 'bad-file-ref'
  | 'file-unavailable'
  | 'file-hash-mismatch'
  | 'unknown-stakeholder'
  | 'role-mismatch'
  | 'bad-approval-signature'
  | 'threshold-not-reached'
  | 'bad-manifest'
  | 'bad-snapshot'
  | 'snapshot-unavailable'
  | 'snapshot-mismatch'

export class VerificationError extends ScitError {
  constructor(
    readonly reason: VerificationReason,
    detail: string,
    readonly block: number | null = null
  ) {
    super('VERIFICATION', `${reason}: ${detail}${block === null ? '' : ` (block ${block})`}`)
  }
}

export function encodeManifest(m: Manifest): Buffer {
  return c.encode(manifestEncoding, m)
}

export function decodeManifest(buf: Uint8Array): Manifest {
  return decodeExact(manifestEncoding, buf)
}

/** What stakeholders sign, settle binds and nodes check: BLAKE2b-256 of the canonical encoding. */
export function manifestHash(m: Manifest): Buffer {
  return hash('scit/manifest', encodeManifest(m))
}

/** Streaming BLAKE2b-256 (no key, no namespace), so `b2sum -l 256 FILE` gives the same digest. */
export class FileHash {
  private readonly state = b4a.alloc(sodium.crypto_generichash_STATEBYTES)
  size = 0
  constructor() {
    sodium.crypto_generichash_init(this.state, null, 32)
  }
  update(chunk: Uint8Array): void {
    this.size += chunk.byteLength
    sodium.crypto_generichash_update(this.state, chunk)
  }
  digest(): Buffer {
    const out = b4a.alloc(32)
    sodium.crypto_generichash_final(this.state, out)
    return out
  }
}

/** Hash a file without loading it whole. */
export async function hashFile(file: string): Promise<{ size: number; hash: Buffer }> {
  const h = new FileHash()
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1024 * 1024 }))
    h.update(chunk as Buffer)
  return { size: h.size, hash: h.digest() }
}

const APPROVAL_NS = b4a.from('scit/approval/v1\n')

function approvalMessage(manifest: Buffer, role: string): Buffer {
  return b4a.concat([APPROVAL_NS, manifest, b4a.from(role)])
}

/** A stakeholder signs a manifest hash in a role; the bot appends the result to the contract core. */
export function signManifest(keyPair: KeyPair, manifest: Buffer, role: string): Approval {
  return {
    stakeholder: keyPair.publicKey,
    role,
    manifestHash: manifest,
    signature: sign(approvalMessage(manifest, role), keyPair.secretKey)
  }
}

/** Check an approval against a policy; throws the reason a node would refuse it for. */
export function verifyApproval(
  a: Approval,
  policy: StakeholderPolicy,
  block: number | null = null
): void {
  const who = policy.signers.find((s) => b4a.equals(s.key, a.stakeholder))
  if (!who)
    throw new VerificationError(
      'unknown-stakeholder',
      `${encodeKey(a.stakeholder)} is not a stakeholder of this manifest`,
      block
    )
  if (who.role !== a.role)
    throw new VerificationError(
      'role-mismatch',
      `${shortKey(a.stakeholder)} signed as "${a.role}", the policy names it "${who.role}"`,
      block
    )
  if (!verifySignature(approvalMessage(a.manifestHash, a.role), a.signature, a.stakeholder)) {
    throw new VerificationError(
      'bad-approval-signature',
      `the signature of ${shortKey(a.stakeholder)} does not verify`,
      block
    )
  }
}

export function encodeApproval(a: Approval): Buffer {
  return c.encode(approvalEncoding, a)
}
export function decodeApproval(buf: Uint8Array): Approval {
  return decodeExact(approvalEncoding, buf)
}

const SAFE_NAME = /^[a-z][a-z0-9-]{0,62}$/
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** An archive's plan holds together: a code GF(2^8) can do, one lease per shard of every group, each as large as a shard. */
function checkArchive(w: ManifestWorkload, bad: (msg: string) => never): void {
  const a = w.archive as ArchiveSpec
  const n = a.data + a.parity
  if (a.data < 1 || a.parity < 1 || n > 256)
    bad(`workload ${w.name}: an archive needs data ≥ 1, parity ≥ 1, data + parity ≤ 256`)
  if (a.groups < 1 || a.shard < 1) bad(`workload ${w.name}: an archive needs groups and shards`)
  if (w.replicas !== a.groups * n)
    bad(
      `workload ${w.name}: ${a.groups} groups of ${n} need ${a.groups * n} leases, not ${w.replicas}`
    )
  if (w.resources.hdd + w.resources.ssd < a.shard)
    bad(
      `workload ${w.name}: a lease of ${w.resources.hdd + w.resources.ssd} bytes cannot hold a ${a.shard}-byte shard`
    )
}

/** What a manifest must satisfy whoever wrote it; a reader refuses the contract otherwise (bad-manifest). */
export function checkManifest(m: Manifest, block: number | null = null): void {
  const bad = (msg: string): never => {
    throw new VerificationError('bad-manifest', msg, block)
  }
  if (m.version !== MANIFEST_VERSION)
    bad(`manifest version ${m.version}, this build reads ${MANIFEST_VERSION}`)
  const names = new Set<string>()
  for (const w of m.workloads) {
    if (!SAFE_NAME.test(w.name) || names.has(w.name))
      bad(`workload name "${w.name}" is invalid or used twice`)
    names.add(w.name)
    if (w.replicas < 1) bad(`workload ${w.name} has no replicas`)
    if (allows(w.kind, 'mirror') !== (w.mirror !== null))
      bad(`workload ${w.name}: mirror settings go with ${kindsAllowing('mirror')} only`)
    if (allows(w.kind, 'archive') !== (w.archive !== null))
      bad(`workload ${w.name}: archive settings go with ${kindsAllowing('archive')} only`)
    if (w.archive !== null) checkArchive(w, bad)
    if (kindEntry(w.kind).needs.includes('command') && w.command.length === 0)
      bad(`workload ${w.name} has no command`)
    for (const k of Object.keys(w.env))
      if (!ENV_NAME.test(k)) bad(`workload ${w.name}: "${k}" is not an environment variable name`)
    for (const p of w.ports) if (p < 1 || p > 65535) bad(`workload ${w.name}: ${p} is not a port`)
    for (const f of w.files)
      if (!isSafePath(f.path)) bad(`workload ${w.name}: file path "${f.path}" is unsafe`)
    const clash = clashingPaths(w.files.map((f) => f.path))
    if (clash)
      bad(`workload ${w.name}: files "${clash[0]}" and "${clash[1]}" would land on one file`)
    if (w.output !== null && !isSafePath(w.output))
      bad(`workload ${w.name}: output path "${w.output}" is unsafe`)
    if ((w.output === null) !== (w.retain === 0) || w.retain > MAX_RETAIN)
      bad(`workload ${w.name}: an output is kept 1 ms to 30 days, and only an output`)
    for (const r of w.access.roles) {
      if (r !== 'bot' && r !== 'stakeholders' && !m.stakeholders.signers.some((x) => x.role === r))
        bad(
          `workload ${w.name}: access role "${r}" is not bot, stakeholders or a stakeholder's role`
        )
    }
    if (w.state !== null) {
      if (!allows(w.kind, 'state'))
        bad(`workload ${w.name}: state is for ${kindsAllowing('state')}, not ${w.kind}s`)
      if (w.state.paths.length === 0 || w.state.interval < 100)
        bad(`workload ${w.name}: state needs paths and an interval of at least 100 ms`)
      for (const p of w.state.paths)
        if (!isSafePath(p)) bad(`workload ${w.name}: state path "${p}" is unsafe`)
    }
  }
  // an archive's catalog records name no workload: one archive per contract
  if (m.workloads.filter((w) => w.archive !== null).length > 1)
    bad('a contract holds at most one archive workload')
  const s = m.stakeholders
  const keys = new Set(s.signers.map((x) => x.key.toString('hex')))
  if (keys.size !== s.signers.length) bad('a stakeholder is listed twice')
  if (s.threshold > s.signers.reduce((n, x) => n + x.weight, 0))
    bad(`stakeholder threshold ${s.threshold} can never be reached`)
}
