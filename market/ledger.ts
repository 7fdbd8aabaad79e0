/**
 * The market ledger: one Autobase per market (its key is the market key), its view a Hyperbee the engine writes
 * (docs/ARCHITECTURE.md "Market ledger"). Anyone may append optimistic blocks; a block is acked only when every envelope in it is
 * attributable to a signer. Indexers, added by governance, make the order final.
 */
import ReadyResource from 'ready-resource'
import Autobase from 'autobase'
import type { ApplyNode, Host, LocalWriter, ViewStore } from 'autobase'
import Hyperbee from 'hyperbee'
import b4a from 'b4a'
import type Corestore from 'corestore'
import { envelopeId } from '../lib/envelope'
import { ScitError } from '../lib/errors'
import { logger } from '../lib/log'
import type { Apply, Effects, Hint, Id, MarketLedger, RejectReason, View } from './types'
import { HyperbeeView } from './hyperbee-view'
import { ApplyView } from './apply-view'
import { OfferBook } from './engine/offer-book'
import { pipeline } from './signature-pool'
import { flushCached } from './bee-cache'
import { Tx } from './engine/tx'
import { Outbox } from './outbox'
import { finalOutcome } from './outcomes'
import { decodeBlock, toBlocks } from './block'
import * as K from './engine/keys'
import { lastSeqInCore } from './seq'
import { Timeline } from './timeline'
import { AckTurns, ACKER_GONE } from './ack-turns'
import safetyCatch from 'safety-catch'

const log = logger('ledger')
const MAX_HINTS = 65536
/**
 * At most this many ops per Autobase append while the market is live: each append is one apply call on every
 * indexer, so the next one is on its way while the others apply this one, and the first ops of a burst are final
 * before the last are applied (one huge call would make every op wait for all of them).
 */
const APPEND_OPS = 256
/**
 * Autobase's own ack timer, a fallback: each tick reads the system view from storage, so at 20 ms an idle indexer
 * spent 5-10 % of a core on it; the ledger acks on updates instead (`ackSoon`).
 */
const BACKGROUND_ACK = 1000
/** How long an indexer that is behind the writers puts its ack off (ms) before it acks what it has. */
const MAX_ACK_DEFER = 1000
/** A writer waiting for its turn (`turn`) wakes on each update, else this often (ms) to pass over a silent acker. */
const TURN_RECHECK = 100

export const LEDGER_NAMESPACE = 'scit/market'

/** Nothing in such an envelope proves who wrote it: its optimistic block is not acked, and Autobase rolls it back. */
const UNATTRIBUTABLE: ReadonlySet<RejectReason> = new Set<RejectReason>([
  'malformed',
  'too-large',
  'unknown-type',
  'bad-version',
  'bad-signature'
])

export interface LedgerOptions {
  /** The market engine (market/engine apply). Passed in so the ledger never decides market rules. */
  apply: Apply
  /** How soon an indexer acks what it saw (ms): finality takes a few ack rounds, so this bounds latency to final. */
  ackInterval?: number
  /** How long an optimistic op may stay undecided before this peer sends it again (ms). */
  resendAfter?: number
  /**
   * Autobase's big batches while catching up (default true): wait for an indexer's unfetched blocks rather than
   * apply and undo. Off once every writer is applied: a live market applies what came, in small calls.
   */
  bigBatches?: boolean
  /** false: never fast-forward, apply every op from genesis (`scit market verify`). */
  fastForward?: boolean
  /** The view's name; another name makes another view core (a replay that must not meet the indexers' view). */
  viewName?: string
  /** Keep each op's way to final and the stages' costs (benches). */
  timeline?: boolean
}

export class Ledger extends ReadyResource implements MarketLedger {
  readonly base: Autobase<Hyperbee, Buffer>
  private readonly engine: Apply
  private appending: Promise<unknown> = Promise.resolve()
  private queued: Array<{
    envelopes: Buffer[]
    ids: Id[]
    direct: boolean
    resolve: () => void
    reject: (err: Error) => void
  }> = []
  /** Sends a non-writer's ops through a relay (market/relay.ts); false when none took them. */
  relay: ((envelopes: Buffer[]) => Promise<boolean>) | null = null
  /** Ops a relay took that this peer has not applied yet, in the order they were sent. */
  private readonly relayed = new Map<Id, Buffer>()
  private draining = false
  private watchdog: NodeJS.Timeout | null = null
  private stalledAt = ''
  private stalledSince = 0
  private readonly ackInterval: number
  private readonly bigBatches: boolean
  /** Big batches are on now (catching up). */
  private batching = false
  private acker: NodeJS.Timeout | null = null
  /** Blocks of the other writers this peer had linearized when it last acked. */
  private othersAtAck = 0
  /** Which indexer acks when. */
  private readonly turns: AckTurns
  /** The ops' writer's length when this peer, its first acker, last acked it. */
  private opsAtAck = 0
  /** Since when an ack waits for this peer to catch up with the writers (ms), else 0. */
  private behindSince = 0
  /** On this peer, re-runs after reorgs included (benchmarks, tests). */
  readonly counters = { envelopes: 0, applies: 0, optimistic: 0, bookLoads: 0 }
  readonly outbox: Outbox
  readonly timeline: Timeline | null
  /** The view's length at Autobase's indexed length, for the view core it was read for (a fork makes new cores). */
  private indexed: { key: Buffer; length: number } | null = null
  private book: { key: Buffer; book: OfferBook } | null = null
  private refreshing: Promise<void> = Promise.resolve()
  /** Hints for waiters, never state. Bounded: past MAX_HINTS or a fast-forward, waiters look for themselves (`lookAllAt`). */
  private applied: Hint[] = []
  private lookAllAt = 0
  /** Ops this peer appended and has not seen applied since: their hint is still to come. */
  private unapplied = new Set<Id>()
  /** The view's length after the last apply call (a call that starts below it re-runs after a reorg). */
  private appliedTo = 0

  /** `key` null creates a new market whose bootstrap writer is this store's local writer. */
  constructor(store: Corestore, key: Buffer | null, opts: LedgerOptions) {
    super()
    this.engine = opts.apply
    this.ackInterval = opts.ackInterval ?? 20
    this.bigBatches = opts.bigBatches ?? true
    this.timeline = opts.timeline === true ? new Timeline() : null
    this.base = new Autobase<Hyperbee, Buffer>(store.namespace(LEDGER_NAMESPACE), key, {
      optimistic: true,
      ackInterval: BACKGROUND_ACK,
      // Autobase's acks after a count of updates: they came from every indexer at once (market/ack-turns.ts).
      ackThreshold: 0,
      // A peer joining a market applies small batches until it has fast-forwarded (a big first batch would
      // apply the whole history before Autobase could fast-forward past it); a new market is live at once.
      bigBatches: false,
      fastForward: opts.fastForward ?? true,
      open: (viewStore: ViewStore) =>
        new Hyperbee(viewStore.get(opts.viewName ?? 'market'), {
          keyEncoding: 'utf-8',
          valueEncoding: 'binary',
          extension: false
        }),
      apply: (nodes, view, host) => this.applyNodes(nodes, view, host),
      close: (view) => view.close()
    })
    this.turns = new AckTurns(this.base, () => this.unfinished())
    this.base.on('error', (err) => {
      log.error('autobase failed', { error: err.message })
      this.emit('error', err)
    })
    this.base.on('update', () => {
      this.live()
      this.ackSoon()
      this.refreshFinal().then(
        () => {
          this.timeline?.settle(this.finalVersion, this.base.view.core.signedLength)
          this.emit('update')
        },
        () => {}
      )
    })
    // A fast-forward jumps to the indexers' view without applying (no hints): waiters must look for themselves.
    this.base.on('fast-forward', () => {
      this.dropHints(this.base.view.core.length)
      this.batch(this.bigBatches)
    })
    this.outbox = new Outbox({
      core: () => this.base.local,
      final: async (id) => (await finalOutcome(this, id)) !== null,
      // Not through a relay again: the one that took them may be the reason they are not final.
      resend: (envelopes) => this.append(envelopes, { direct: true }),
      resendAfter: opts.resendAfter
    })
  }

  protected override async _open(): Promise<void> {
    await this.base.ready()
    await this.base.view.ready()
    await this.outbox.open()
    this.watch()
  }

  protected override async _close(): Promise<void> {
    if (this.watchdog !== null) clearTimeout(this.watchdog)
    if (this.acker !== null) clearTimeout(this.acker)
    this.outbox.close()
    await this.appending.catch(safetyCatch)
    await this.base.close()
  }

  get key(): Buffer {
    return this.base.key
  }
  get discoveryKey(): Buffer {
    return this.base.discoveryKey
  }
  /** This peer's writer core key: what `add-indexer` names. */
  get writerKey(): Buffer {
    return this.base.local.key
  }
  /** This peer's writer core: append-only, never truncated. */
  get writerCore(): LocalWriter {
    return this.base.local
  }
  get isIndexer(): boolean {
    return this.base.isIndexer
  }
  /** Can this peer append blocks of its own (an indexer or an added writer), not only optimistic ones? */
  get writable(): boolean {
    return this.base.writable
  }
  get backlog(): number {
    let n = 0
    for (const q of this.queued) n += q.envelopes.length
    return n
  }
  /** The view as applied so far: includes optimistic ops that a reorg may still move or drop. */
  get view(): Hyperbee {
    return this.base.view
  }
  /**
   * Length of the view whose order the indexers fixed (Autobase's indexed length); it never changes again.
   * A peer that linearizes the writers needs no quorum signature to know what is final.
   */
  get finalVersion(): number {
    const core = this.base.view.core
    const indexed =
      this.indexed !== null && b4a.equals(this.indexed.key, core.key) ? this.indexed.length : 0
    return Math.max(indexed, core.signedLength)
  }

  /** Learn the indexed length before anyone is told of the update. */
  private refreshFinal(): Promise<void> {
    const run = async (): Promise<void> => {
      const info = await this.base.getIndexedInfo()
      const key = this.base.view.core.key
      const v = info?.views.find((v) => b4a.equals(v.key, key))
      if (
        v !== undefined &&
        (this.indexed === null ||
          !b4a.equals(this.indexed.key, key) ||
          v.length > this.indexed.length)
      ) {
        this.indexed = { key, length: v.length }
      }
    }
    this.refreshing = this.refreshing.then(run, run)
    return this.refreshing
  }

  /** A checkout of the final (indexed) part of the view. Close it when done. */
  finalCheckout(): Hyperbee {
    return this.base.view.checkout(Math.max(1, this.finalVersion))
  }

  async update(): Promise<void> {
    await this.base.update()
  }

  /**
   * Apply what peers had when we asked, until every known writer is idle (`update()` only applies what is local).
   * A signed length is no target: an idle market ends in acks no quorum signs until something new happens.
   */
  async catchUp(timeout = 30_000): Promise<void> {
    const deadline = Date.now() + timeout
    while (Date.now() < deadline) {
      const writers = [...this.base.activeWriters]
      await Promise.all(writers.map((w) => w.core.update({ wait: true }).catch(() => false)))
      await this.base.update()
      if ([...this.base.activeWriters].every((w) => w.idle())) return
      await this.nextUpdate(100)
    }
  }

  /** Autobase's next 'update' (it linearized a new node of any writer), or `ms` passed. */
  private nextUpdate(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.base.off('update', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.base.once('update', done)
    })
  }

  private batch(on: boolean): void {
    if (this.batching === on) return
    this.batching = on
    this.base.setBigBatches(on)
  }

  /** Caught up (every writer applied): big batches off, so a live market is applied as it comes. */
  private live(): void {
    if (this.batching && [...this.base.activeWriters].every((w) => w.idle())) this.batch(false)
  }

  /**
   * An indexer asks Autobase to ack (it acks only what moves the indexers' consensus on) soon after it linearized
   * others' blocks while ops are still to be made final. Autobase's own timer restarts on every remote append, so
   * on a busy market it waited for a lull, and ops waited for the acks that make them final.
   */
  private ackSoon(): void {
    if (this.acker !== null || this.closing !== null || !this.base.isIndexer) return
    const others = this.othersLength()
    if (others <= this.othersAtAck || !this.unfinished() || !this.turns.acksNow()) return
    this.acker = setTimeout(() => this.ackNow(), Math.max(1, this.ackInterval / 4))
  }

  /**
   * Acks once this peer has linearized every block a peer announced of an indexer's core (Autobase itself waits
   * only for the blocks it downloaded). An ack that misses the relay's newest blocks is concurrent with them: when
   * the indexers' consensus orders it first, every peer undoes those blocks and runs their ops again.
   */
  private ackNow(): void {
    this.acker = null
    if (this.closing !== null) return
    const now = Date.now()
    if (!this.turns.caughtUp()) {
      this.behindSince ||= now
      if (now - this.behindSince < MAX_ACK_DEFER) {
        this.acker = setTimeout(() => this.ackNow(), Math.max(1, this.ackInterval))
        this.timeline?.count('ack deferred', 1)
        return
      }
    }
    this.behindSince = 0
    this.othersAtAck = this.othersLength()
    this.timeline?.cost('ack asked', process.hrtime.bigint())
    // The first acker acks each new block of the ops' writer, which waits for it (`turn`); Autobase's ack may not.
    const writer = this.turns.writerOfOps()
    if (writer !== null && writer.length > this.opsAtAck) {
      this.opsAtAck = writer.length
      void this.appendAck()
    } else {
      this.base.ack().catch(safetyCatch)
    }
  }

  /**
   * Before a block of ops, wait for the first acker to ack this peer's last block: a block appended while that ack
   * is on its way is concurrent with it (market/ack-turns.ts). No ack is owed once all here is final. The acker's
   * ack arrives as an Autobase update; the bound re-asks for an acker gone silent and sees a close.
   */
  private async turn(): Promise<void> {
    const local = this.base.local
    const length = local.length
    if (length === 0) return
    const started = process.hrtime.bigint()
    const since = Date.now()
    while (this.closing === null && this.unfinished()) {
      // Asked each time: an acker silent since the wait began is passed over for the next.
      const acker = this.turns.firstAcker(local.key, since)
      if (acker === null || this.turns.saw(acker, length)) break
      this.timeline?.count('turn wakes', 1)
      await this.nextUpdate(TURN_RECHECK)
    }
    this.timeline?.cost('turn', started)
  }

  /** Blocks of the other writers this peer has linearized. */
  private othersLength(): number {
    const local = this.base.local.key
    let n = 0
    for (const w of this.base.activeWriters) if (!b4a.equals(w.core.key, local)) n += w.length
    return n
  }

  /** Ops applied here that are not final yet, or a final part no quorum signed yet (followers read that). */
  private unfinished(): boolean {
    const core = this.base.view.core
    const final = this.finalVersion
    return final < core.length || core.signedLength < final
  }

  pending(): Buffer[] {
    return this.outbox.pending()
  }

  async lastSeqSent(author: Buffer): Promise<number> {
    return Math.max(await lastSeqInCore(this.base.local, author), this.outbox.lastSeq(author))
  }

  replicate(stream: unknown): unknown {
    return this.base.replicate(stream)
  }

  /** Hints since the last call, and a view length (else 0) from which waiters must look for themselves. */
  takeApplied(): { hints: Hint[]; lookAllAt: number } {
    const out = { hints: this.applied, lookAllAt: this.lookAllAt }
    this.applied = []
    this.lookAllAt = 0
    return out
  }

  /** False for an op this peer appended and has not applied since: its hint is still to come. */
  appliedYet(id: Id): boolean {
    return !this.unapplied.has(id)
  }

  private dropHints(length: number): void {
    this.lookAllAt = Math.max(this.lookAllAt, length, 1)
    this.applied = []
    this.unapplied.clear()
  }

  /**
   * Append sealed envelopes, in order, one append at a time; what queues meanwhile goes out together next.
   * Optimistic appends must not interleave: a second before the first is flushed turns the first non-optimistic.
   */
  append(envelopes: Buffer[], opts: { direct?: boolean } = {}): Promise<void> {
    if (envelopes.length === 0) return Promise.resolve()
    if (this.closing !== null)
      return Promise.reject(new ScitError('CLOSED', 'the ledger is closed'))
    if (this.unapplied.size + envelopes.length > MAX_HINTS) this.unapplied.clear()
    const ids = envelopes.map((e) => envelopeId(e))
    for (const id of ids) this.unapplied.add(id)
    this.timeline?.mark(ids, 'queued')
    return new Promise<void>((resolve, reject) => {
      const failed = (err: Error): void => {
        for (const id of ids) this.unapplied.delete(id)
        reject(err)
      }
      this.queued.push({ envelopes, ids, direct: opts.direct === true, resolve, reject: failed })
      if (this.queued.length === 1 && !this.draining) this.drain()
    })
  }

  private drain(): void {
    this.draining = true
    const run = async (): Promise<void> => {
      while (this.queued.length > 0) {
        const group = this.queued.splice(0)
        try {
          await this.appendNow(
            group.flatMap((g) => g.envelopes),
            group.flatMap((g) => g.ids),
            group.some((g) => g.direct)
          )
          for (const g of group) g.resolve()
        } catch (err) {
          for (const g of group) g.reject(err as Error)
        }
      }
      this.draining = false
    }
    const next = this.appending.then(run, run)
    this.appending = next.catch(safetyCatch)
  }

  private async appendNow(envelopes: Buffer[], ids: Id[], direct: boolean): Promise<void> {
    this.timeline?.mark(ids, 'appending')
    if (this.base.writable) {
      for (let i = 0; i < envelopes.length; i += APPEND_OPS) {
        await this.turn()
        const started = process.hrtime.bigint()
        await this.base.append(toBlocks(envelopes.slice(i, i + APPEND_OPS)))
        this.timeline?.cost('append', started)
      }
      return
    }
    await this.outbox.add(envelopes)
    if (!direct && this.relay !== null) {
      envelopes.forEach((e, i) => this.relayed.set(ids[i], e))
      const taken = await this.relay(envelopes).catch((err) => {
        // Refused as stamped ahead, the client seals them again (market/clock.ts).
        for (const id of ids) this.relayed.delete(id)
        return this.outbox.refused(envelopes, err, { resealed: true })
      })
      if (taken) return
    }
    // Relayed ops not applied yet go first again, to keep one author's seq order; a second copy changes nothing.
    const all = new Map(this.relayed)
    envelopes.forEach((e, i) => all.set(ids[i], e))
    this.relayed.clear()
    this.counters.optimistic += all.size
    for (const block of toBlocks([...all.values()]))
      await this.base.append(block, { optimistic: true })
  }

  /** Jittered so indexers' nudges fall apart and see each other; chained after the last nudge so they never pile up. */
  private watch(): void {
    const tick = Math.max(100, 5 * this.ackInterval)
    this.watchdog = setTimeout(
      () => {
        this.nudge()
          .catch(safetyCatch)
          .finally(() => {
            if (this.closing === null) this.watch()
          })
      },
      tick / 2 + Math.random() * tick
    )
    this.watchdog.unref()
  }

  /**
   * Autobase 7's auto-ack can settle with ops applied but not indexed, each indexer deciding the others' acks
   * suffice. An indexer that sees that unchanged for a tick, with nothing to apply, acks to restart the rounds.
   */
  private async nudge(): Promise<void> {
    if (!this.opened || this.closing !== null || !this.base.isIndexer) return
    const length = this.base.view.core.length
    const final = this.finalVersion
    // Followers read the signed view: a final part no quorum has signed yet is a stall too.
    const signed = this.base.view.core.signedLength
    const state = final < length || signed < final ? `${length}:${final}:${signed}` : ''
    const now = Date.now()
    if (state !== this.stalledAt) this.stalledSince = now
    const stalled = state !== '' && state === this.stalledAt
    this.stalledAt = state
    // Busy, not stuck: a nudge would only add acks and reorgs.
    if (!stalled || ![...this.base.activeWriters].every((w) => w.idle())) return
    // Only the ops' writer nudges at once: another's ack would be concurrent with its next ops (ack-turns.ts). The
    // others step in once finality has stalled a while (the ops' writer seems gone).
    if (!this.turns.writesOps() && now - this.stalledSince < ACKER_GONE) return
    log.debug('finality stalled: acking', { length, final })
    this.timeline?.cost('nudge', process.hrtime.bigint())
    await this.appendAck()
  }

  /** An empty node that acks what this peer has linearized, queued behind its appends of ops. */
  private appendAck(): Promise<number> {
    const run = (): Promise<number> => this.base.append(null)
    const next = this.appending.then(run, run)
    this.appending = next.catch(safetyCatch)
    return next
  }

  /**
   * Autobase's apply: touches only the view and host, as reorgs undo and re-run it. One Hyperbee batch per call,
   * as Autobase records view lengths per call, so a signed length falls on a complete B-tree. Each node's writes
   * reach it once, in key order; node boundaries are the same on every peer, so the view's blocks are too.
   */
  private async applyNodes(
    nodes: Array<ApplyNode<Buffer>>,
    bee: Hyperbee,
    host: Host
  ): Promise<void> {
    this.counters.applies++
    const started = process.hrtime.bigint()
    if (this.timeline !== null && bee.core.length < this.appliedTo) {
      this.timeline.cost('reorg', started)
      this.timeline.count('view blocks undone', this.appliedTo - bee.core.length)
    }
    const book = await this.offerBook(bee)
    const batch = bee.batch({ update: false })
    const view = new ApplyView(HyperbeeView.writing(batch), book)
    const hints: Hint[] = []
    let acked = 0
    const blocks = nodes.map((n) => decodeBlock(n.value))
    const checked = pipeline(blocks)
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i]
      await checked(i)
      const staged = new Tx(view)
      if (blocks[i] !== null) this.turns.opsWriter = node.from.key
      const ack = await this.applyBlock(node, blocks[i], staged.asView(), host, hints)
      await staged.commit()
      if (ack) {
        await host.ackWriter(node.from.key)
        acked++
      }
    }
    // An optimistic node that was not acked is rolled back by Autobase anyway: skip writing it. Its
    // ops' waiters still look (one may be a copy of an op decided before, whose hint is long gone).
    const dropped = acked === 0 && nodes.every((n) => n.optimistic)
    if (dropped) {
      await batch.close()
      book.rollback()
    } else {
      await flushCached(batch, bee)
      book.seal(bee.core.length)
      book.trim(bee.core.signedLength)
    }
    for (const h of hints) {
      if (dropped) h.outcome = null
      else if (this.relayed.size > 0) this.relayed.delete(h.id)
      h.length = bee.core.length
      this.unapplied.delete(h.id)
    }
    this.appliedTo = bee.core.length
    if (this.timeline !== null) {
      this.timeline.applied(
        hints.filter((h) => h.outcome !== null).map((h) => h.id),
        bee.core.length
      )
      this.timeline.cost('apply', started)
    }
    // Hinted once the view holds them: a waiter that looks before the flush would find nothing and not look again.
    if (this.applied.length + hints.length <= MAX_HINTS) this.applied.push(...hints)
    else this.dropHints(bee.core.length)
  }

  /** The book kept since the last call, reorged calls undone; rebuilt for another view core or a deeper reorg. */
  private async offerBook(bee: Hyperbee): Promise<OfferBook> {
    const length = bee.core.length
    const kept = this.book
    if (
      kept !== null &&
      b4a.equals(kept.key, bee.core.key) &&
      (kept.book.length === length || kept.book.truncate(length))
    )
      return kept.book
    const book = await OfferBook.load(HyperbeeView.reading(bee), true)
    book.seal(length)
    this.book = { key: bee.core.key, book }
    this.counters.bookLoads++
    return book
  }

  /** Run the engine on each envelope of a block, noting them in `hints`; true when the writer should be acked. */
  private async applyBlock(
    node: ApplyNode<Buffer>,
    envelopes: Buffer[] | null,
    view: View,
    host: Host,
    hints: Hint[]
  ): Promise<boolean> {
    if (envelopes === null) return false
    const bootstrap = b4a.equals(node.from.key, host.key)
    let attributable = true
    let decided = 0
    for (const value of envelopes) {
      // The same bytes have one outcome: a copy re-appended by anyone is not re-decided (nor recorded as a replay of itself).
      const id = envelopeId(value)
      if ((await view.get(K.accepted(id))) !== null || (await view.get(K.rejected(id))) !== null) {
        hints.push({ id, outcome: null, length: 0 }) // decided before: its waiters look it up
        continue
      }
      this.counters.envelopes++
      const started = process.hrtime.bigint()
      const { outcome, effects } = await this.engine(view, { value, bootstrap })
      this.timeline?.cost('engine', started)
      this.timeline?.ran(id, node.indexed)
      hints.push({ id, outcome, length: 0 })
      if (outcome.reason !== null && UNATTRIBUTABLE.has(outcome.reason)) attributable = false
      else decided++
      if (effects !== null) await carryOut(effects, host)
    }
    return attributable && decided > 0
  }
}

/** Governance effects, decided by the engine, carried out on the base. */
async function carryOut(effects: Effects, host: Host): Promise<void> {
  if (effects.addIndexer) await host.addWriter(effects.addIndexer, { indexer: true })
  // Autobase refuses to remove the last indexer; the engine's vote is recorded either way, the market keeps running.
  if (effects.removeIndexer && host.removeable(effects.removeIndexer))
    await host.removeWriter(effects.removeIndexer)
}
