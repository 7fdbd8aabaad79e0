/**
 * The contract core as bot and node share it (docs/ARCHITECTURE.md "Notary"): `readContract`, the
 * verifying reader a node runs before it runs anything. Every refusal is a VerificationError whose
 * stable `reason` starts its message. The format is in contract-messages.ts.
 */
import fs from 'fs'
import { once } from 'events'
import c from 'compact-encoding'
import b4a from 'b4a'
import type Hypercore from 'hypercore'
import { encodeKey } from './keys'
import { open as openEnvelope, TYPES, Envelope } from './envelope'
import { decodeExact } from './codec'
import { ScitError, isScitError } from './errors'
import { resolveAccess, AccessList } from './access'
import { archiveRecord, ArchiveRecord } from './archive/messages'
import {
  Manifest,
  ContractHeader,
  Instruction,
  Approval,
  BlobRef,
  BlobMarker,
  VerificationError,
  FileHash,
  headerEncoding,
  instructionEncoding,
  approvalEncoding,
  blobMarkerEncoding,
  BLOB_MARKER,
  manifestHash,
  verifyApproval,
  checkManifest
} from './contract-messages'

export * from './contract-messages'

// ---------------------------------------------------------------------------
// The verifying reader

export interface ContractExpect {
  coreKey: Buffer // the core the trade was settled with
  botKey: Buffer // the bot that holds the trade
  manifestHash?: Buffer // the manifest hash the trade was settled with
}

export interface SignedInstruction extends Instruction {
  seq: number
  block: number
  timestamp: number
}
export interface FileBlob extends BlobMarker {
  start: number
}

/**
 * Read and verify a contract core from block 0 up to its current length.
 * With `wait: false` it reads only what is local; otherwise missing blocks
 * are fetched from peers. Call `refresh()` after the core grows. A core
 * without a header yet is refused with `no-header` (retry once it grows).
 */
export async function readContract(
  core: Hypercore,
  expect: ContractExpect,
  opts: { wait?: boolean } = {}
): Promise<ContractView> {
  await core.ready()
  const view = new ContractView(core, expect, opts.wait !== false)
  await view.refresh()
  if (!view.header)
    throw new VerificationError('no-header', `core ${encodeKey(core.key)} has no header yet`)
  return view
}

export interface ApprovalSummary {
  manifestHash: string // hex
  threshold: number
  weight: number // of distinct valid signers
  reached: boolean
  signers: Array<{ key: string; role: string; weight: number; signed: boolean }>
}

/** What a node acts on: the manifest in force, the files to fetch, whether to run, how many replicas. */
export interface ContractState {
  manifestHash: Buffer
  manifest: Manifest
  deploy: SignedInstruction | null // the last deploy/update: its `files` are what to fetch
  stopped: boolean // a stop came after it
  approved: boolean // the stakeholder threshold is reached for the manifest in force
  replicas: Record<string, number> // per workload: the manifest's count, or the last scale
  access: Record<string, AccessList> // per workload: who may connect to its ports (lib/access.ts)
}

export class ContractView {
  header: ContractHeader | null = null
  /** Every manifest declared so far (the header's, then updates'), by hex hash. */
  readonly manifests = new Map<string, Manifest>()
  readonly instructions: SignedInstruction[] = []
  /** Valid approvals by manifest hash (hex), then by stakeholder key (hex): a signer counts once. */
  readonly approvals = new Map<string, Map<string, Approval>>()
  readonly blobs = new Map<number, FileBlob>()
  /** Blocks read and verified; a trailing, incomplete file is not counted. */
  length = 0
  /** The blob at the tail whose chunks are not all there yet (a writer that stopped mid-file). */
  pendingBlob: FileBlob | null = null
  /** An archive's catalog records, in core order (lib/archive/catalog.ts folds them). */
  readonly archive: Array<{ record: ArchiveRecord; block: number }> = []

  constructor(
    readonly core: Hypercore,
    readonly expect: ContractExpect,
    private readonly wait: boolean
  ) {}

  get manifestHash(): Buffer {
    return this.requireHeader().manifestHash
  }
  get manifest(): Manifest {
    return this.requireHeader().manifest
  }
  get lastSeq(): number {
    return this.instructions.length ? this.instructions[this.instructions.length - 1].seq : 0
  }

  /** The manifest in force: the last deploy/update's, else the header's. */
  get current(): { hash: Buffer; manifest: Manifest } {
    for (let i = this.instructions.length - 1; i >= 0; i--) {
      const ins = this.instructions[i]
      if (ins.action === 'deploy' || ins.action === 'update')
        return {
          hash: ins.manifestHash,
          manifest: this.manifests.get(ins.manifestHash.toString('hex')) as Manifest
        }
    }
    return { hash: this.manifestHash, manifest: this.manifest }
  }

  state(): ContractState {
    const { hash, manifest } = this.current
    let deploy: SignedInstruction | null = null
    let stopped = false
    const replicas: Record<string, number> = {}
    for (const w of manifest.workloads) replicas[w.name] = w.replicas
    for (const ins of this.instructions) {
      if (ins.action === 'deploy' || ins.action === 'update') {
        deploy = ins
        stopped = false
        for (const w of this.manifests.get(ins.manifestHash.toString('hex'))?.workloads ?? [])
          replicas[w.name] = w.replicas
      }
      if (ins.action === 'stop') stopped = true
      if (ins.action === 'scale') for (const s of ins.scale) replicas[s.workload] = s.replicas
    }
    const access = resolveAccess(manifest, this.expect.botKey, this.instructions)
    return {
      manifestHash: hash,
      manifest,
      deploy,
      stopped,
      approved: this.thresholdReached(hash),
      replicas,
      access
    }
  }

  async refresh(): Promise<void> {
    this.pendingBlob = null
    let i = this.length
    while (i < this.core.length) {
      const block = await this.core.get(i, { wait: this.wait })
      if (block === null) break
      if (i === 0) this.readHeader(block)
      else if (block[0] === BLOB_MARKER) {
        const marker = this.decode(blobMarkerEncoding, block, i)
        const blob = { ...marker, start: i + 1 }
        if (blob.start + blob.blocks > this.core.length) {
          this.pendingBlob = blob
          break
        }
        this.blobs.set(blob.start, blob)
        i = blob.start + blob.blocks
        this.length = i
        continue
      } else this.readRecord(block, i)
      this.length = ++i
    }
  }

  private decode<T>(enc: c.Encoding<T>, buf: Uint8Array, block: number): T {
    try {
      return decodeExact(enc, buf)
    } catch (err) {
      if (isScitError(err, 'UNSUPPORTED'))
        throw new ScitError(
          'UNSUPPORTED',
          `contract ${block === 0 ? 'header' : `block ${block}`}: ${err.message}`
        )
      throw new VerificationError(
        block === 0 ? 'bad-header' : 'bad-record',
        `does not decode: ${(err as Error).message}`,
        block
      )
    }
  }

  private readHeader(block: Buffer): void {
    const r = openEnvelope(block)
    if (!r.ok)
      throw new VerificationError(
        r.reason === 'bad-signature' ? 'bad-header-signature' : 'bad-header',
        r.message,
        0
      )
    const env = r.envelope
    if (env.type !== TYPES['contract-header'])
      throw new VerificationError(
        'bad-header',
        `block 0 is a type ${env.type} envelope, not a contract-header`,
        0
      )
    if (!b4a.equals(env.author, this.expect.botKey))
      throw new VerificationError(
        'wrong-bot',
        `the header is signed by ${encodeKey(env.author)}, the trade's bot is ${encodeKey(this.expect.botKey)}`,
        0
      )
    const h = this.decode(headerEncoding, env.body, 0)
    if (!b4a.equals(h.core, this.expect.coreKey) || !b4a.equals(h.core, this.core.key))
      throw new VerificationError(
        'wrong-core',
        `the header names core ${encodeKey(h.core)}, this is ${encodeKey(this.core.key)}`,
        0
      )
    if (!b4a.equals(manifestHash(h.manifest), h.manifestHash))
      throw new VerificationError(
        'manifest-hash-mismatch',
        "the manifest in the header does not hash to the header's manifest hash",
        0
      )
    checkManifest(h.manifest, 0)
    if (this.expect.manifestHash && !b4a.equals(h.manifestHash, this.expect.manifestHash)) {
      throw new VerificationError(
        'wrong-manifest',
        `the header's manifest ${h.manifestHash.toString('hex')} is not the settled ${this.expect.manifestHash.toString('hex')}`,
        0
      )
    }
    this.header = h
    this.manifests.set(h.manifestHash.toString('hex'), h.manifest)
  }

  private readRecord(block: Buffer, i: number): void {
    if (!this.header) throw new VerificationError('no-header', 'records before a header', i)
    const r = openEnvelope(block)
    if (!r.ok)
      throw new VerificationError(
        r.reason === 'bad-signature' ? 'bad-signature' : 'bad-record',
        r.message,
        i
      )
    const env = r.envelope
    if (!b4a.equals(env.author, this.expect.botKey))
      throw new VerificationError(
        'foreign-author',
        `signed by ${encodeKey(env.author)}, not the contract's bot`,
        i
      )
    if (env.type === TYPES.instruction) this.readInstruction(env, i)
    else if (env.type === TYPES.approval) this.readApproval(env, i)
    else if (env.type === TYPES.archive)
      this.archive.push({ record: this.decode(archiveRecord, env.body, i), block: i })
    else
      throw new VerificationError(
        'unexpected-type',
        `a type ${env.type} envelope has no place in a contract core`,
        i
      )
  }

  private readInstruction(env: Envelope, i: number): void {
    const ins = this.decode(instructionEncoding, env.body, i)
    const expected = this.lastSeq + 1
    if (env.seq > expected)
      throw new VerificationError('seq-gap', `instruction seq ${env.seq}, expected ${expected}`, i)
    if (env.seq < expected)
      throw new VerificationError(
        'out-of-sequence',
        `instruction seq ${env.seq} was already used (expected ${expected})`,
        i
      )
    const hex = ins.manifestHash.toString('hex')
    if (ins.action === 'update') {
      if (!ins.manifest || !b4a.equals(manifestHash(ins.manifest), ins.manifestHash))
        throw new VerificationError(
          'manifest-hash-mismatch',
          'an update must carry the manifest its hash names',
          i
        )
      checkManifest(ins.manifest, i)
      this.manifests.set(hex, ins.manifest)
    }
    const manifest = this.manifests.get(hex)
    if (!manifest)
      throw new VerificationError(
        'unknown-manifest',
        `instruction ${env.seq} applies to manifest ${hex}, never declared on this core`,
        i
      )
    if (ins.action === 'deploy' || ins.action === 'update') this.checkFiles(ins.files, manifest, i)
    if (ins.action === 'scale') this.checkScale(ins, manifest, i)
    else if (ins.restore.length > 0)
      throw new VerificationError('bad-record', `a ${ins.action} instruction restores nothing`, i)
    if (ins.action === 'grant' || ins.action === 'revoke') this.checkGrant(ins, manifest, i)
    this.instructions.push({ ...ins, seq: env.seq, block: i, timestamp: env.timestamp })
  }

  private checkScale(ins: Instruction, manifest: Manifest, i: number | null): void {
    for (const s of ins.scale) {
      if (!manifest.workloads.some((w) => w.name === s.workload))
        throw new VerificationError(
          'bad-record',
          `scale names workload "${s.workload}", not in the manifest`,
          i
        )
    }
    for (const r of ins.restore) {
      if (!ins.trades.includes(r.trade))
        throw new VerificationError(
          'bad-record',
          `restore names trade ${r.trade}, which the instruction does not buy`,
          i
        )
      if (r.length < 1 || r.seq < 1)
        throw new VerificationError('bad-record', `restore of ${r.trade} names no snapshot`, i)
    }
  }

  /** A grant or revoke names one key and a workload of the manifest ('' : all). Public so the writer refuses what readers would. */
  checkGrant(ins: Instruction, manifest: Manifest, i: number | null = null): void {
    if (ins.grant === null)
      throw new VerificationError('bad-record', `a ${ins.action} instruction names no key`, i)
    const name = ins.grant.workload
    if (name !== '' && !manifest.workloads.some((w) => w.name === name))
      throw new VerificationError(
        'bad-record',
        `${ins.action} names workload "${name}", not in the manifest`,
        i
      )
  }

  /**
   * A deploy names every file of its manifest exactly once, each in a complete
   * blob already on the core. Public so the writer can refuse to append what
   * every reader would refuse.
   */
  checkFiles(refs: BlobRef[], manifest: Manifest, i: number | null = null): void {
    const want = new Map<string, { size: number; hash: Buffer }>()
    for (const w of manifest.workloads) for (const f of w.files) want.set(`${w.name}\0${f.path}`, f)
    for (const ref of refs) {
      const k = `${ref.workload}\0${ref.path}`
      const f = want.get(k)
      const blob = this.blobs.get(ref.start)
      if (!f)
        throw new VerificationError(
          'bad-file-ref',
          `${ref.workload}/${ref.path} is not a file of the manifest (or is named twice)`,
          i
        )
      if (f.size !== ref.size || !b4a.equals(f.hash, ref.hash))
        throw new VerificationError(
          'bad-file-ref',
          `${ref.workload}/${ref.path} differs from the manifest's size or hash`,
          i
        )
      if (!blob || blob.blocks !== ref.blocks || blob.size !== ref.size)
        throw new VerificationError(
          'bad-file-ref',
          `${ref.workload}/${ref.path} does not point at a file blob (start ${ref.start})`,
          i
        )
      want.delete(k)
    }
    if (want.size)
      throw new VerificationError(
        'bad-file-ref',
        `files missing from the instruction: ${[...want.keys()].map((k) => k.replace('\0', '/')).join(', ')}`,
        i
      )
  }

  private readApproval(env: Envelope, i: number): void {
    const a = this.decode(approvalEncoding, env.body, i)
    const hex = a.manifestHash.toString('hex')
    const manifest = this.manifests.get(hex)
    if (!manifest)
      throw new VerificationError(
        'unknown-manifest',
        `approval for manifest ${hex}, never declared on this core`,
        i
      )
    verifyApproval(a, manifest.stakeholders, i)
    let m = this.approvals.get(hex)
    if (!m) this.approvals.set(hex, (m = new Map()))
    m.set(a.stakeholder.toString('hex'), a)
  }

  private requireHeader(): ContractHeader {
    if (!this.header) throw new VerificationError('no-header', 'the core has no header yet')
    return this.header
  }

  /** The weight of distinct valid signers of `hash` (default: the manifest in force). */
  approvedWeight(hash = this.current.hash): number {
    const manifest = this.manifests.get(hash.toString('hex'))
    const signed = this.approvals.get(hash.toString('hex'))
    if (!manifest || !signed) return 0
    return manifest.stakeholders.signers.reduce(
      (sum, s) => sum + (signed.has(s.key.toString('hex')) ? s.weight : 0),
      0
    )
  }

  thresholdReached(hash = this.current.hash): boolean {
    const manifest = this.manifests.get(hash.toString('hex'))
    return manifest !== undefined && this.approvedWeight(hash) >= manifest.stakeholders.threshold
  }

  /** Who signed the manifest in force (or `hash`) and the weight reached: `scit bot approvals` and the explorer. */
  approvalSummary(hash = this.current.hash): ApprovalSummary {
    const manifest = this.manifests.get(hash.toString('hex'))
    const signed = this.approvals.get(hash.toString('hex'))
    const threshold = manifest?.stakeholders.threshold ?? 0
    const weight = this.approvedWeight(hash)
    return {
      manifestHash: hash.toString('hex'),
      threshold,
      weight,
      reached: weight >= threshold,
      signers: (manifest?.stakeholders.signers ?? []).map((x) => ({
        key: encodeKey(x.key),
        role: x.role,
        weight: x.weight,
        signed: signed?.has(x.key.toString('hex')) === true
      }))
    }
  }

  /** Throws threshold-not-reached: what a node checks before it runs anything. */
  requireApproved(hash = this.current.hash): void {
    if (this.thresholdReached(hash)) return
    const need = this.manifests.get(hash.toString('hex'))?.stakeholders.threshold ?? 0
    throw new VerificationError(
      'threshold-not-reached',
      `approved weight ${this.approvedWeight(hash)} of the ${need} required`
    )
  }

  /** A small blob's bytes (an archive entry's sealed metadata), its size and hash checked. */
  async readBlob(ref: {
    start: number
    blocks: number
    size: number
    hash: Buffer
  }): Promise<Buffer> {
    const blob = this.blobs.get(ref.start)
    if (!blob || blob.blocks !== ref.blocks || blob.size !== ref.size)
      throw new VerificationError(
        'bad-file-ref',
        `no blob of ${ref.size} bytes at block ${ref.start}`
      )
    const chunks: Buffer[] = []
    for (let i = ref.start; i < ref.start + ref.blocks; i++) {
      const chunk = await this.core.get(i, { wait: this.wait })
      if (chunk === null)
        throw new VerificationError('file-unavailable', `block ${i} is not available`)
      chunks.push(chunk)
    }
    const data = b4a.concat(chunks)
    const h = new FileHash()
    h.update(data)
    if (data.byteLength !== ref.size || !b4a.equals(h.digest(), ref.hash))
      throw new VerificationError(
        'file-hash-mismatch',
        `the blob at block ${ref.start} does not hash to its reference`
      )
    return data
  }

  /** Stream a file's blocks to `dest`, verifying size and hash; a refused file is deleted. `fetched`: bytes so far. */
  async fetchFile(ref: BlobRef, dest: string, fetched?: (bytes: number) => void): Promise<void> {
    const blob = this.blobs.get(ref.start)
    if (!blob || blob.blocks !== ref.blocks || blob.size !== ref.size)
      throw new VerificationError(
        'bad-file-ref',
        `${ref.path} does not point at a file blob on this core`
      )
    const end = ref.start + ref.blocks
    const range = this.wait ? this.core.download({ start: ref.start, end }) : null
    const out = fs.createWriteStream(dest, { mode: 0o600 })
    const h = new FileHash()
    let err: VerificationError | null = null
    try {
      for (let i = ref.start; i < end && !err; i++) {
        const chunk = await this.core.get(i, { wait: this.wait })
        if (chunk === null) {
          err = new VerificationError(
            'file-unavailable',
            `block ${i} of ${ref.path} is not available`
          )
          break
        }
        h.update(chunk)
        if (h.size > ref.size) {
          err = new VerificationError(
            'file-hash-mismatch',
            `${ref.path} is longer than its ${ref.size} bytes`
          )
          break
        }
        if (!out.write(chunk)) await once(out, 'drain')
        fetched?.(h.size)
      }
      if (!err && (h.size !== ref.size || !b4a.equals(h.digest(), ref.hash)))
        err = new VerificationError(
          'file-hash-mismatch',
          `${ref.path}: the bytes on the core do not hash to ${ref.hash.toString('hex')}`
        )
    } finally {
      range?.destroy()
      out.end()
      await once(out, 'close')
    }
    if (err) {
      await fs.promises.rm(dest, { force: true })
      throw err
    }
  }
}
