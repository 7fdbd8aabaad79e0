/**
 * The node's signed status and log cores (docs/ARCHITECTURE.md "Execution"): every transition and
 * bounded chunks of output, each an envelope whose seq is its block index + 1. The status core is
 * kept whole; the log core is rotated. Readers are in lib/status.ts.
 */
import ReadyResource from 'ready-resource'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import b4a from 'b4a'
import c from 'compact-encoding'
import { seal, TypeName } from '../lib/envelope'
import type { KeyPair } from '../lib/identity'
import { logger } from '../lib/log'
import {
  statusRecord,
  logRecord,
  StatusRecord,
  LogRecord,
  Stream,
  WorkloadState
} from '../lib/node-messages'
import type { Verified } from '../lib/status'
import type { Transition } from './workload'
import safetyCatch from 'safety-catch'

const log = logger('node/status')

export const MAX_LOG_CHUNK = 4096

export interface StatusCoreOptions {
  /** Log blocks kept locally; older ones are cleared. */
  keepLogBlocks?: number
  /** Bytes of one stream buffered before newer output is dropped (seen as an offset gap). */
  maxPending?: number
  /** How long output is coalesced before it is appended (ms). */
  flushInterval?: number
}

interface Pending {
  chunks: Buffer[]
  size: number
  offset: number
  dropped: number
}

/** What a status record names besides the transition. */
export interface RecordFrom {
  contract?: Buffer
  trade?: string
  state?: Buffer | null
  service?: string | null
}

export class StatusCore extends ReadyResource {
  readonly status: Hypercore
  readonly logs: Hypercore
  private readonly identity: KeyPair
  private readonly keep: number
  private readonly maxPending: number
  private readonly flushInterval: number
  private readonly pending = new Map<string, Pending>()
  private queue: Promise<unknown> = Promise.resolve()
  /** The last status record of each workload not yet appended. */
  private readonly records = new Map<string, Promise<number>>()
  private timer: NodeJS.Timeout | null = null
  private clearedTo = 0

  constructor(store: Corestore, identity: KeyPair, opts: StatusCoreOptions = {}) {
    super()
    this.identity = identity
    this.status = store.get({ name: 'scit/node/status' })
    this.logs = store.get({ name: 'scit/node/log' })
    this.keep = opts.keepLogBlocks ?? 1024
    this.maxPending = opts.maxPending ?? 64 * 1024
    this.flushInterval = opts.flushInterval ?? 250
  }

  protected override async _open(): Promise<void> {
    await this.status.ready()
    await this.logs.ready()
  }

  protected override async _close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    await this.flush()
    await this.queue
    await this.logs.close()
    await this.status.close()
  }

  /**
   * Append a state transition. Resolves with its block index. `from` may be
   * a promise (a job's output kept first): the records of one workload stay
   * in order, `flush` waits for them, and other workloads are not held up.
   */
  record(t: Transition, from: RecordFrom | Promise<RecordFrom> = {}): Promise<number> {
    const prev = this.records.get(t.id) ?? Promise.resolve(0)
    const next = prev
      .catch(safetyCatch)
      .then(async () => this.append(this.status, 'status', this.encode(t, await from)))
    this.records.set(t.id, next)
    const done = (): void => {
      if (this.records.get(t.id) === next) this.records.delete(t.id)
    }
    next.then(done, done)
    return next
  }

  private encode(t: Transition, from: RecordFrom): Buffer {
    const body: StatusRecord = {
      workload: t.id,
      state: t.state,
      reason: t.reason.slice(0, 1024),
      exitCode: t.exitCode,
      signal: t.signal,
      stdout: t.stdout,
      output: t.output,
      ports: t.ports,
      restarts: t.restarts,
      contract: from.contract ?? null,
      trade: from.trade ?? null,
      stateCore: from.state ?? null,
      service: from.service ?? null
    }
    return c.encode(statusRecord, body)
  }

  /** Queue output of a workload; it is appended in chunks, coalesced and bounded. */
  output(workload: string, stream: Stream, data: Buffer): void {
    const key = `${workload}\n${stream}`
    let p = this.pending.get(key)
    if (!p) this.pending.set(key, (p = { chunks: [], size: 0, offset: 0, dropped: 0 }))
    const room = this.maxPending - p.size
    if (room < data.byteLength) p.dropped += data.byteLength - Math.max(0, room)
    if (room > 0) {
      const keep = data.subarray(0, room)
      p.chunks.push(keep)
      p.size += keep.byteLength
    }
    if (!this.timer && !this.closing) {
      this.timer = setTimeout(() => {
        this.timer = null
        this.flush().catch((err) => log.warn('log flush failed', { err: (err as Error).message }))
      }, this.flushInterval)
    }
  }

  /** Append everything pending now. */
  async flush(): Promise<void> {
    await Promise.allSettled(this.records.values())
    const writes: Array<Promise<number>> = []
    for (const [key, p] of this.pending) {
      if (p.size === 0) {
        p.offset += p.dropped
        p.dropped = 0
        continue
      }
      const [workload, stream] = key.split('\n') as [string, Stream]
      const all = b4a.concat(p.chunks)
      for (let at = 0; at < all.byteLength; at += MAX_LOG_CHUNK) {
        const data = all.subarray(at, at + MAX_LOG_CHUNK)
        const body: LogRecord = { workload, stream, offset: p.offset + at, data }
        writes.push(this.append(this.logs, 'log', c.encode(logRecord, body)))
      }
      p.offset += all.byteLength + p.dropped
      p.chunks = []
      p.size = 0
      p.dropped = 0
    }
    await Promise.all(writes)
    await this.rotate()
  }

  private append(core: Hypercore, type: TypeName, body: Buffer): Promise<number> {
    // One writer, one queue: the envelope seq must equal the block index + 1.
    const next = this.queue.then(async () => {
      const index = core.length
      await core.append(seal(this.identity, { type, seq: index + 1, timestamp: Date.now(), body }))
      return index
    })
    this.queue = next.catch(safetyCatch)
    return next
  }

  private async rotate(): Promise<void> {
    const to = this.logs.length - this.keep
    if (to <= this.clearedTo) return
    await this.queue
    await this.logs.clear(this.clearedTo, to)
    this.clearedTo = to
  }
}

export interface WorkloadView {
  workload: string
  state: WorkloadState
  reason: string
  since: number
  restarts: number
  transitions: number
  last: StatusRecord
}

/** The latest state of every workload, from verified status records. */
export function summarize(records: Array<Verified<StatusRecord>>): WorkloadView[] {
  const byId = new Map<string, WorkloadView>()
  for (const r of records) {
    const prev = byId.get(r.body.workload)
    byId.set(r.body.workload, {
      workload: r.body.workload,
      state: r.body.state,
      reason: r.body.reason,
      since: r.timestamp,
      restarts: r.body.restarts,
      transitions: (prev?.transitions ?? 0) + 1,
      last: r.body
    })
  }
  return [...byId.values()].sort((a, b) => a.workload.localeCompare(b.workload))
}
