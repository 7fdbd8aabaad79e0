/**
 * The bot's side of a contract core: the only writer. It checks each record
 * against the same rules as `readContract` before appending it, because the
 * core is append-only: one record a node refuses would poison the contract
 * for good. Its state is the core itself, read back on `ready()`, so a bot
 * restarted mid-contract continues where it stopped.
 */
import fs from 'fs'
import b4a from 'b4a'
import c from 'compact-encoding'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import { ScitError } from '../lib/errors'
import { KeyPair } from '../lib/identity'
import { seal, TypeName } from '../lib/envelope'
import {
  ContractView,
  VerificationError,
  FileHash,
  Manifest,
  BlobRef,
  Approval,
  Instruction,
  InstructionAction,
  SignedInstruction,
  RestoreRef,
  manifestHash,
  verifyApproval,
  headerEncoding,
  instructionEncoding,
  approvalEncoding,
  blobMarkerEncoding,
  CHUNK_SIZE,
  BLOB_MARKER
} from '../lib/contract'
import { archiveRecord, ArchiveRecord, MetaRef } from '../lib/archive/messages'
import { readCatalog } from '../lib/archive/catalog'
import safetyCatch from 'safety-catch'

/** Chunks appended per hypercore batch: fewer tree updates without holding much memory (1 MiB). */
const BATCH = 16

export interface ContractWriterOptions {
  store: Corestore
  identity: KeyPair
  /** The bot's own name for the contract; the core's name in the store derives from it. */
  contractId: string
  now?: () => number
}

export interface InstructionInput {
  action: InstructionAction
  manifestHash?: Buffer
  manifest?: Manifest | null
  files?: BlobRef[]
  scale?: Array<{ workload: string; replicas: number }>
  trades?: string[]
  reason?: string
  grant?: { workload: string; key: Buffer } | null
  restore?: RestoreRef[]
}

export class ContractWriter {
  readonly store: Corestore
  readonly identity: KeyPair
  readonly contractId: string
  core!: Hypercore
  view!: ContractView
  private readonly now: () => number
  private queue: Promise<unknown> = Promise.resolve()

  constructor(opts: ContractWriterOptions) {
    this.store = opts.store
    this.identity = opts.identity
    this.contractId = opts.contractId
    this.now = opts.now ?? Date.now
  }

  static coreName(contractId: string): string {
    return `scit/contract/${contractId}`
  }

  get key(): Buffer {
    return this.core.key
  }
  get seq(): number {
    return this.view.lastSeq
  }
  get hasHeader(): boolean {
    return this.view.header !== null
  }

  async ready(): Promise<void> {
    this.core = this.store.get({ name: ContractWriter.coreName(this.contractId) })
    await this.core.ready()
    this.view = new ContractView(
      this.core,
      { coreKey: this.core.key, botKey: this.identity.publicKey },
      false
    )
    await this.view.refresh()
    // a file cut short by a crash is referenced by nothing yet: drop it so the next record frames right
    if (this.view.pendingBlob) {
      await this.core.truncate(this.view.pendingBlob.start - 1)
      await this.view.refresh()
    }
  }

  async close(): Promise<void> {
    await this.core?.close()
  }

  /**
   * One append at a time: a record landing inside a file's chunks would break
   * the framing, and two instructions racing for one seq would poison the core.
   */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(safetyCatch)
    return run
  }

  writeHeader(manifest: Manifest, trades: string[] = []): Promise<Buffer> {
    return this.serial(() => this.header(manifest, trades))
  }

  appendFile(source: string, to: { workload: string; path: string }): Promise<BlobRef> {
    return this.serial(() => this.file(source, to))
  }

  appendApproval(a: Approval): Promise<void> {
    return this.serial(() => this.approval(a))
  }

  appendInstruction(input: InstructionInput): Promise<SignedInstruction> {
    return this.serial(() => this.instruction(input))
  }

  /** Bytes held in memory as a file blob (an archive entry's sealed metadata). */
  appendBytes(data: Buffer): Promise<MetaRef> {
    return this.serial(() => this.bytes(data))
  }

  /** An archive catalog record, checked as every reader will fold it (lib/archive/catalog.ts). */
  appendArchive(record: ArchiveRecord): Promise<void> {
    return this.serial(async () => {
      this.requireHeader()
      const w = this.view.current.manifest.workloads.find((x) => x.archive !== null)
      if (w === undefined)
        throw new ScitError('INVALID_ARGUMENT', `contract ${this.contractId} is not an archive`)
      readCatalog(this.view.archive, w).apply(record)
      await this.append('archive', 0, c.encode(archiveRecord, record))
    })
  }

  private async bytes(data: Buffer): Promise<MetaRef> {
    this.requireHeader()
    const blocks = Math.ceil(data.byteLength / CHUNK_SIZE)
    const start = this.core.length + 1
    const chunks: Buffer[] = []
    for (let at = 0; at < data.byteLength; at += CHUNK_SIZE)
      chunks.push(data.subarray(at, at + CHUNK_SIZE))
    const marker = c.encode(blobMarkerEncoding, { tag: BLOB_MARKER, blocks, size: data.byteLength })
    await this.core.append([marker, ...chunks])
    await this.view.refresh()
    const h = new FileHash()
    h.update(data)
    return { start, blocks, size: data.byteLength, hash: h.digest() }
  }

  private async header(manifest: Manifest, trades: string[]): Promise<Buffer> {
    if (this.core.length > 0)
      throw new ScitError('INVALID_ARGUMENT', `contract ${this.contractId} already has a header`)
    const hash = manifestHash(manifest)
    await this.append(
      'contract-header',
      0,
      c.encode(headerEncoding, { core: this.core.key, manifestHash: hash, manifest, trades })
    )
    return hash
  }

  /** Stream a file into the core; the hash is computed on the way, the file is never held whole. */
  private async file(source: string, to: { workload: string; path: string }): Promise<BlobRef> {
    this.requireHeader()
    const size = (await fs.promises.stat(source)).size
    const blocks = Math.ceil(size / CHUNK_SIZE)
    const start = this.core.length + 1
    await this.core.append(c.encode(blobMarkerEncoding, { tag: BLOB_MARKER, blocks, size }))
    const h = new FileHash()
    let batch: Buffer[] = []
    let written = 0
    const flush = async (): Promise<void> => {
      if (batch.length) {
        await this.core.append(batch)
        written += batch.length
        batch = []
      }
    }
    let pending = b4a.alloc(0)
    let failure: unknown = null
    try {
      if (size > 0) {
        for await (const data of fs.createReadStream(source, {
          start: 0,
          end: size - 1,
          highWaterMark: CHUNK_SIZE
        })) {
          pending = pending.byteLength ? b4a.concat([pending, data as Buffer]) : (data as Buffer)
          while (pending.byteLength >= CHUNK_SIZE) {
            h.update(pending.subarray(0, CHUNK_SIZE))
            batch.push(pending.subarray(0, CHUNK_SIZE))
            pending = pending.subarray(CHUNK_SIZE)
            if (batch.length >= BATCH) await flush()
          }
        }
      }
      if (pending.byteLength) {
        h.update(pending)
        batch.push(pending)
      }
      await flush()
    } catch (err) {
      failure = err
    }
    const complete = failure === null && h.size === size && written === blocks
    // the marker promised `blocks` chunks: keep the framing whatever happened, so the next record
    // is read as a record; this blob is then referenced by nothing
    batch = []
    while (written < blocks) {
      batch.push(b4a.alloc(1))
      await flush()
    }
    await this.view.refresh()
    if (failure) throw failure
    if (!complete)
      throw new ScitError(
        'INVALID_ARGUMENT',
        `${source} changed while it was being stored (expected ${size} bytes)`
      )
    return { workload: to.workload, path: to.path, start, blocks, size, hash: h.digest() }
  }

  private async approval(a: Approval): Promise<void> {
    this.requireHeader()
    const manifest = this.view.manifests.get(a.manifestHash.toString('hex'))
    if (!manifest)
      throw new VerificationError(
        'unknown-manifest',
        `approval for manifest ${a.manifestHash.toString('hex')}, not declared on this contract`
      )
    verifyApproval(a, manifest.stakeholders)
    await this.append('approval', 0, c.encode(approvalEncoding, a))
  }

  private async instruction(input: InstructionInput): Promise<SignedInstruction> {
    this.requireHeader()
    const manifest = input.manifest ?? null
    const hash = input.manifestHash ?? (manifest ? manifestHash(manifest) : this.view.current.hash)
    const ins: Instruction = {
      action: input.action,
      manifestHash: hash,
      manifest,
      files: input.files ?? [],
      scale: input.scale ?? [],
      trades: input.trades ?? [],
      reason: input.reason ?? '',
      grant: input.grant ?? null,
      restore: input.restore ?? []
    }
    if (ins.action === 'update' && (!manifest || !b4a.equals(manifestHash(manifest), hash)))
      throw new ScitError('INVALID_ARGUMENT', 'an update carries its new manifest')
    const target = manifest ?? this.view.manifests.get(hash.toString('hex'))
    if (!target)
      throw new VerificationError(
        'unknown-manifest',
        `manifest ${hash.toString('hex')} is not declared on this contract`
      )
    if (ins.action === 'deploy' || ins.action === 'update') this.view.checkFiles(ins.files, target)
    if (ins.action === 'grant' || ins.action === 'revoke') this.view.checkGrant(ins, target)
    // a restore a node would refuse poisons the core: refuse it here
    if (
      ins.restore.some(
        (r) => ins.action !== 'scale' || !ins.trades.includes(r.trade) || r.length < 1 || r.seq < 1
      )
    )
      throw new ScitError(
        'INVALID_ARGUMENT',
        'a restore goes with a scale instruction, for a trade it names, from a snapshot'
      )
    const seq = this.seq + 1
    await this.append('instruction', seq, c.encode(instructionEncoding, ins))
    return this.view.instructions[this.view.instructions.length - 1]
  }

  private requireHeader(): void {
    if (!this.hasHeader)
      throw new ScitError(
        'INVALID_ARGUMENT',
        `contract ${this.contractId} has no header yet: writeHeader first`
      )
  }

  private async append(type: TypeName, seq: number, body: Buffer): Promise<void> {
    await this.core.append(seal(this.identity, { type, seq, timestamp: this.now(), body }))
    await this.view.refresh()
  }
}
