/**
 * Ops this peer appended, kept in its writer core's user data until final and appended again if still undecided
 * after `resendAfter`: a peer that dies before any indexer fetched its block is not announced again on restart.
 * Resending is safe as the engine decides the same bytes once.
 */
import c from 'compact-encoding'
import b4a from 'b4a'
import { decodeExact } from '../lib/codec'
import { envelopeId, envelopeEncoding } from '../lib/envelope'
import type { Envelope } from '../lib/envelope'
import { logger } from '../lib/log'
import { isClockAhead, MAX_AHEAD } from './clock'
import type { Id } from './types'
import safetyCatch from 'safety-catch'

const log = logger('outbox')
const KEY = 'scit/outbox'
const VERSION = 1
/** Past these, the oldest ops are forgotten: an outbox is for what is in flight. */
const MAX_OPS = 4096
const MAX_BYTES = 4 * 1024 * 1024
/** An op older than this (its own timestamp) is not sent again. */
const MAX_AGE = 60 * 60_000
/**
 * Resend waits with no op final before the outbox is stuck: on a loaded market ops take seconds each, but some
 * become final all along; behind a relay cut off from the quorum, none does.
 */
const STUCK_AFTER = 2

const encoding: c.Encoding<Buffer[]> = {
  preencode(state, list) {
    c.uint.preencode(state, VERSION)
    c.array(c.buffer).preencode(state, list)
  },
  encode(state, list) {
    c.uint.encode(state, VERSION)
    c.array(c.buffer).encode(state, list)
  },
  decode(state) {
    const version = c.uint.decode(state)
    if (version !== VERSION) throw new Error(`outbox version ${version} is not supported`)
    return c
      .array(c.buffer)
      .decode(state)
      .filter((b): b is Buffer => b !== null)
  }
}

export interface OutboxOptions {
  core: () => {
    getUserData: (key: string) => Promise<Buffer | null>
    setUserData: (key: string, value: Buffer | null) => Promise<void>
  }
  final: (id: Id) => Promise<boolean>
  /** `stuck`: no op of this outbox became final for STUCK_AFTER resend waits (not a slow market: a cut-off path). */
  resend: (envelopes: Buffer[], info: { stuck: boolean }) => Promise<void>
  resendAfter?: number
  /**
   * A resend while stuck carries every op not final yet, in the order they were added, not only those due: it goes
   * through another relay than the ops before it (market/relay.ts passOver), and an author's later op applied first
   * would make its earlier one a replay.
   */
  whole?: boolean
  now?: () => number
}

export class Outbox {
  /** Each op, and when it was last sent (-Infinity: by a previous run). */
  private readonly ops = new Map<Id, { envelope: Buffer; sent: number }>()
  private timer: NodeJS.Timeout | null = null
  private saving: Promise<void> = Promise.resolve()
  /** A save not started yet: later callers share it (it writes what the outbox holds when it starts). */
  private pendingSave: Promise<void> | null = null
  private checking: Promise<void> | null = null
  private next: Promise<void> | null = null
  private closed = false
  /** When an op was last found final, or the outbox last became non-empty. */
  private progress = 0

  constructor(private readonly opts: OutboxOptions) {}

  get size(): number {
    return this.ops.size
  }

  /** The ops sent and not final yet, this run's and a previous run's. */
  pending(): Buffer[] {
    return [...this.ops.values()].map((op) => op.envelope)
  }

  async open(): Promise<void> {
    const stored = await this.opts.core().getUserData(KEY)
    if (stored !== null) {
      try {
        for (const e of decodeExact(encoding, stored))
          this.ops.set(envelopeId(e), { envelope: e, sent: -Infinity })
      } catch (err) {
        log.warn('outbox unreadable: starting empty', { error: (err as Error).message })
      }
    }
    this.progress = this.now()
    if (this.ops.size > 0)
      log.info('ops from a previous run are not final yet', { ops: this.ops.size })
    this.schedule()
  }

  close(): void {
    this.closed = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }

  lastSeq(author: Buffer): number {
    let max = 0
    for (const op of this.ops.values()) {
      const e = decodeEnvelope(op.envelope)
      if (e !== null && b4a.equals(e.author, author)) max = Math.max(max, e.seq)
    }
    return max
  }

  /** Call before appending them. */
  async add(envelopes: Buffer[]): Promise<void> {
    const sent = this.now()
    if (this.ops.size === 0) this.progress = sent
    for (const e of envelopes) this.ops.set(envelopeId(e), { envelope: e, sent })
    this.trim()
    await this.save()
    this.schedule()
  }

  /**
   * Drop what is final, send again what is not after `resendAfter`. A caller that comes while a check runs gets a
   * fresh one after it (the running check may have read an op as undecided just before it became final); callers
   * that come meanwhile share that one.
   */
  check(): Promise<void> {
    if (this.checking === null) {
      this.checking = this.run().finally(() => {
        this.checking = null
      })
      return this.checking
    }
    if (this.next === null)
      this.next = this.checking.catch(safetyCatch).then(() => {
        this.next = null
        return this.check()
      })
    return this.next
  }

  private async run(): Promise<void> {
    const now = this.now()
    const waiting: Array<{ envelope: Buffer; sent: number }> = []
    for (const [id, op] of [...this.ops]) {
      if (await this.opts.final(id)) {
        this.ops.delete(id)
        this.progress = now
      } else if (now - timestampOf(op.envelope) > MAX_AGE) this.ops.delete(id)
      else waiting.push(op)
    }
    const due = waiting.filter((op) => now - op.sent >= this.resendAfter)
    const stuck = due.length > 0 && now - this.progress >= STUCK_AFTER * this.resendAfter
    const again = stuck && this.opts.whole === true ? waiting : due
    for (const op of again) op.sent = now
    await this.save()
    if (again.length > 0) {
      const envelopes = again.map((op) => op.envelope)
      log.info('sending ops again: not final yet', { ops: envelopes.length, stuck })
      await this.opts
        .resend(envelopes, { stuck })
        .catch((err) => this.refused(envelopes, err, { resealed: false }))
    }
  }

  /**
   * The one place a send's failure changes the outbox; throws `err` on. A relay refuses a request whole (nothing of
   * it appended): refused as stamped ahead of the indexers' clock (CLOCK_AHEAD, market/clock.ts), its ops are never
   * sent again as they are: all of them go when `resealed` (a submit seals them anew: a copy left here could be
   * taken too), else those stamped past that clock + MAX_AHEAD (a resend: the others were refused with them, and go
   * again). Any other failure leaves every op here, to be sent again.
   */
  async refused(sent: Buffer[], err: unknown, opts: { resealed: boolean }): Promise<never> {
    if (isClockAhead(err)) {
      const gone = opts.resealed ? sent : sent.filter((e) => timestampOf(e) > err.time + MAX_AHEAD)
      log.warn('ops stamped ahead of the indexers dropped', { ops: gone.length })
      for (const e of gone) this.ops.delete(envelopeId(e))
      await this.save()
    }
    throw err
  }

  private schedule(): void {
    if (this.timer !== null || this.ops.size === 0 || this.closed) return
    this.timer = setTimeout(() => {
      this.timer = null
      // A check cut short by closing is expected; any other failure is worth a warning.
      this.check()
        .catch((err) => {
          if (!this.closed) log.warn('outbox check failed', { error: (err as Error).message })
        })
        .finally(() => this.schedule())
    }, this.resendAfter)
    this.timer.unref()
  }

  private get resendAfter(): number {
    return this.opts.resendAfter ?? 10_000
  }

  private now(): number {
    return (this.opts.now ?? Date.now)()
  }

  private trim(): void {
    let bytes = 0
    for (const op of this.ops.values()) bytes += op.envelope.byteLength
    for (const [id, op] of this.ops) {
      if (this.ops.size <= MAX_OPS && bytes <= MAX_BYTES) break
      this.ops.delete(id)
      bytes -= op.envelope.byteLength
    }
  }

  /**
   * One write of the whole outbox at a time, and one queued behind it for every caller meanwhile: a sender at 90
   * ops/s wrote it once per op, each write waiting for the one before, and its ops reached the relay seconds late.
   */
  private save(): Promise<void> {
    if (this.pendingSave !== null) return this.pendingSave
    const next = this.saving.then(() => {
      this.pendingSave = null
      const list = [...this.ops.values()].map((op) => op.envelope)
      return this.opts.core().setUserData(KEY, c.encode(encoding, list))
    })
    this.pendingSave = next
    this.saving = next.catch(safetyCatch)
    return next
  }
}

function decodeEnvelope(e: Buffer): Envelope | null {
  try {
    return decodeExact(envelopeEncoding, e)
  } catch {
    return null
  }
}

function timestampOf(e: Buffer): number {
  return decodeEnvelope(e)?.timestamp ?? 0
}
