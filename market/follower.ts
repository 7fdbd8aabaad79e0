/**
 * A follower reads the indexers' signed view sparsely instead of applying the market (docs/ARCHITECTURE.md "Scale");
 * its ops go out through a relay. A view key from any peer is trusted only once its manifest's signers, with a
 * majority quorum, are exactly the indexers the view records: while the founder is one, that anchors it to the
 * market key. Of two valid views it reads the one further in engine time.
 */
import ReadyResource from 'ready-resource'
import Hyperbee from 'hyperbee'
import type Hypercore from 'hypercore'
import type Corestore from 'corestore'
import crypto from 'hypercore-crypto'
import b4a from 'b4a'
import safetyCatch from 'safety-catch'
import { ScitError, isScitError } from '../lib/errors'
import { encodeKey, shortKey } from '../lib/keys'
import { logger } from '../lib/log'
import { raceTimeout, TIMED_OUT } from '../lib/timeout'
import * as K from './engine/keys'
import * as Q from './queries'
import { HyperbeeView } from './hyperbee-view'
import { Outbox } from './outbox'
import { finalOutcome } from './outcomes'
import type { Hint, Id, MarketLedger } from './types'

const log = logger('follower')
export const FOLLOWER_NAMESPACE = 'scit/follower'
const VIEW_KEY = 'scit/view'
const CHECK_TIMEOUT = 15_000
const RELAY_WAIT = 15_000
/** A view whose check timed out is checked again after this, doubling up to RETRY_MAX, while a peer shows it. */
const RETRY_FIRST = 1_000
const RETRY_MAX = 30_000

export interface FollowerOptions {
  resendAfter?: number
  /** ms a view's check may take before it is tried again later (default 15 s). */
  checkTimeout?: number
}

export class Follower extends ReadyResource implements MarketLedger {
  readonly discoveryKey: Buffer
  readonly writable = false
  readonly writerKey = null
  readonly isIndexer = false
  readonly backlog = 0
  /** The indexers' signed view only grows (a new indexer set gives a new view, followed afresh). */
  readonly appendOnly = true
  readonly counters = { envelopes: 0, applies: 0, optimistic: 0 }
  relay: ((envelopes: Buffer[]) => Promise<boolean>) | null = null
  /** Whether a peer still shows this view (the peer's relays know); a timed-out check is retried only then. */
  shows: (key: Buffer) => boolean = () => true
  /** No op sent became final for a while (the peer passes their relay over, and looks for more indexers). */
  stuck: () => void = () => {}
  readonly outbox: Outbox
  private readonly seen = new Map<string, Promise<boolean>>()
  /** Views whose check timed out or closed: the next try's delay, and its timer. */
  private readonly retries = new Map<string, { delay: number; timer: NodeJS.Timeout | null }>()
  private readonly checkTimeout: number
  private current: { core: Hypercore; bee: Hyperbee } | null = null
  /** Its user data keeps the outbox and the last view key. */
  private own: Hypercore | null = null
  /** A peer showed this view this session (a saved one may be long stale). */
  private shown = false
  /** Why the last view shown was not followed (for a timeout that says what it waited for). */
  private trouble: string | null = null
  private lookAllAt = 0
  private readonly known: Array<() => void> = []
  private readonly onappend = (): void => this.changed()

  constructor(
    private readonly store: Corestore,
    readonly key: Buffer,
    opts: FollowerOptions = {}
  ) {
    super()
    this.discoveryKey = crypto.discoveryKey(key)
    this.checkTimeout = opts.checkTimeout ?? CHECK_TIMEOUT
    this.outbox = new Outbox({
      core: () => this.ownCore,
      final: async (id) => (await finalOutcome(this, id)) !== null,
      resend: (envelopes, { stuck }) => {
        if (stuck) this.stuck()
        return this.send(envelopes)
      },
      resendAfter: opts.resendAfter,
      whole: true
    })
  }

  protected override async _open(): Promise<void> {
    // One per market: a data dir that follows two markets keeps their views apart.
    this.own = this.store.namespace(FOLLOWER_NAMESPACE).get({ name: b4a.toString(this.key, 'hex') })
    await this.own.ready()
    const saved = await this.own.getUserData(VIEW_KEY)
    // Checked when first followed; still needs a peer to show it (or a newer one) this session.
    if (saved !== null && saved.byteLength === 32) await this.follow(saved, false)
    await this.outbox.open()
  }

  protected override async _close(): Promise<void> {
    for (const r of this.retries.values()) if (r.timer !== null) clearTimeout(r.timer)
    this.retries.clear()
    this.outbox.close()
    for (const resolve of this.known.splice(0)) resolve()
    if (this.current !== null) {
      this.current.core.off('append', this.onappend)
      await this.current.bee.close()
    }
    if (this.own !== null) await this.own.close()
  }

  private get ownCore(): Hypercore {
    if (this.own === null) throw new ScitError('CLOSED', 'the follower is not open')
    return this.own
  }

  get view(): Hyperbee {
    if (this.current === null)
      throw new ScitError('CLOSED', 'no view of the market yet: no indexer has answered')
    return this.current.bee
  }

  get viewKey(): Buffer | null {
    return this.current?.core.key ?? null
  }

  /** Everything a follower reads is signed by a quorum of indexers: all of it is final. */
  get finalVersion(): number {
    return this.current?.core.length ?? 0
  }

  finalCheckout(): Hyperbee {
    return this.view.checkout(Math.max(1, this.finalVersion))
  }

  async viewKnown(timeout: number, progress?: (line: string) => void): Promise<void> {
    if (this.shown) return
    let resolve!: () => void
    const known = new Promise<void>((res) => {
      resolve = res
    })
    this.known.push(resolve)
    const started = Date.now()
    const tell = (): void => {
      const waited = Math.round((Date.now() - started) / 1000)
      progress?.(
        `waiting for market ${shortKey(this.key)} (${waited} s${Number.isFinite(timeout) ? ` of ${Math.round(timeout / 1000)}` : ''}): ${this.trouble ?? 'no peer has shown its signed view yet'}`
      )
      timer = setTimeout(tell, 5000)
    }
    let timer = setTimeout(tell, 2000)
    // A daemon waits for its market as long as it takes (Infinity), saying what it waits for.
    const outcome = Number.isFinite(timeout) ? await raceTimeout(known, timeout) : await known
    clearTimeout(timer)
    if (outcome === TIMED_OUT) {
      // Say what happened: no peer at all, or a view shown that could not be followed yet, and why.
      throw new ScitError(
        'TIMEOUT',
        this.trouble === null
          ? `no peer of market ${encodeKey(this.key)} showed its view within ${timeout} ms: is an indexer or relay of this market online, and --bootstrap right?`
          : `market ${encodeKey(this.key)}: a peer showed its view within ${timeout} ms, but it is not followed yet: ${this.trouble}`
      )
    }
    if (this.current === null) throw new ScitError('CLOSED', 'the follower closed')
  }

  /** A peer reads this view: check it (once per key), follow it if it is the newest valid one. */
  offer(key: Buffer): Promise<boolean> {
    if (this.current !== null && b4a.equals(key, this.current.core.key)) {
      this.showed()
      return Promise.resolve(true)
    }
    const id = b4a.toString(key, 'hex')
    let checking = this.seen.get(id)
    if (checking === undefined) {
      checking = this.check(key, id).then(
        () => {
          this.settled(id)
          return true
        },
        (err) => {
          this.trouble = (err as Error).message
          if (this.closing !== null) return false
          // Only a view that failed its check is refused for good; a timeout or a close is tried again.
          const again = !isScitError(err, 'VERIFICATION')
          if (again) {
            this.seen.delete(id)
            this.retry(key, id)
          } else this.settled(id)
          log.warn('view refused', {
            view: shortKey(key),
            error: (err as Error).message,
            ...(again ? { retryIn: this.retries.get(id)?.delay } : {})
          })
          return false
        }
      )
      this.seen.set(id, checking)
    }
    return checking
  }

  /**
   * Nothing else offers a view again (a peer shows it once, at connection or when it changes), so a check that
   * timed out is retried here, with back-off, until it succeeds or fails for real, while some peer shows it.
   */
  private retry(key: Buffer, id: string): void {
    const last = this.retries.get(id)
    if (last?.timer) clearTimeout(last.timer)
    const delay = last === undefined ? RETRY_FIRST : Math.min(last.delay * 2, RETRY_MAX)
    const r = { delay, timer: null as NodeJS.Timeout | null }
    r.timer = setTimeout(() => {
      r.timer = null
      if (this.closing !== null) return
      if (this.shows(key)) return void this.offer(key)
      // Shown again later (a peer reached again: market/peer.ts looks for them), it is offered again then.
      this.retries.delete(id)
      this.trouble = `no peer reached now shows view ${shortKey(key)} (its last check: ${this.trouble ?? 'none'})`
    }, delay)
    this.retries.set(id, r)
  }

  /** No retry is due any more: the view was followed, or refused for good. */
  private settled(id: string): void {
    const r = this.retries.get(id)
    if (r?.timer) clearTimeout(r.timer)
    this.retries.delete(id)
  }

  /**
   * A check that outlives its timeout goes on (a starved peer answers late, not never): if it ends well, the view is
   * followed then, not at the next retry's time; a retry, while some peer shows the view, covers a check that fails.
   */
  private async check(key: Buffer, id: string): Promise<void> {
    if (this.closing !== null) throw new ScitError('CLOSED', 'the follower is closed')
    const step = { waiting: 'a signed block of it' }
    const attempt = this.verify(key, step)
    const time = await raceTimeout(attempt, this.checkTimeout)
    if (time === TIMED_OUT) {
      attempt.then(
        (late) => this.checked(key, late).then(() => this.settled(id), safetyCatch),
        () => {} // the retry says why
      )
      throw new ScitError(
        'TIMEOUT',
        `view ${shortKey(key)} was not checked within ${this.checkTimeout} ms (waiting for ${step.waiting}; it goes on, and is tried again)`
      )
    }
    await this.checked(key, time)
  }

  /** Follow a view that checked out, if it is further in engine time than the one followed. */
  private async checked(key: Buffer, time: number): Promise<void> {
    if (this.closing !== null) return
    const current = this.current
    if (
      current !== null &&
      (b4a.equals(key, current.core.key) || time <= (await timeOf(current.bee)))
    )
      return this.showed()
    await this.follow(key, true)
  }

  private async withView<T>(key: Buffer, fn: (bee: Hyperbee) => Promise<T>): Promise<T> {
    const bee = new Hyperbee(this.store.get({ key }), BEE)
    try {
      await bee.ready()
      // A new view (after an indexer change) has no signed block until the indexers ack it: wait, it is not a bad view.
      const deadline = Date.now() + this.checkTimeout
      while (bee.core.length === 0 || bee.core.manifest === null) {
        if (this.closing !== null) throw new ScitError('CLOSED', 'the follower is closed')
        if (Date.now() > deadline)
          throw new ScitError('TIMEOUT', `no peer has a signed block of view ${shortKey(key)} yet`)
        if (!(await bee.core.update({ wait: true })))
          await new Promise((resolve) => setTimeout(resolve, 250))
      }
      return await fn(bee)
    } finally {
      await bee.close()
    }
  }

  /** The core's signers must be the indexers its own signed content names, by a majority quorum. Returns its engine time. */
  private async verify(key: Buffer, step: { waiting: string }): Promise<number> {
    return await this.withView(key, async (bee) => {
      const m = bee.core.manifest
      if (m === null || m.signers.length === 0)
        throw new ScitError('VERIFICATION', 'the view has no signers')
      if (m.quorum < (m.signers.length >> 1) + 1)
        throw new ScitError(
          'VERIFICATION',
          `a quorum of ${m.quorum} of ${m.signers.length} is no majority`
        )
      const writers: Buffer[] = []
      let time: number
      const snap = bee.checkout(bee.core.length)
      try {
        step.waiting = 'its genesis'
        if ((await snap.get(K.META_GENESIS)) === null)
          throw new ScitError('VERIFICATION', 'the view has no genesis')
        step.waiting = 'its indexers'
        for await (const e of snap.createReadStream({
          gte: 'gov/indexer/',
          lt: 'gov/indexer/' + K.END
        })) {
          writers.push(e.value.byteLength === 32 ? e.value : this.key) // the founder's mark: its writer is the market key
        }
        step.waiting = 'its engine time'
        time = await Q.engineTime(HyperbeeView.reading(snap))
      } finally {
        await snap.close()
      }
      step.waiting = "the indexers' manifests"
      const signers = await Promise.all(writers.map((w) => this.signerOf(w)))
      const wanted = new Set(signers.map((s) => b4a.toString(s, 'hex')))
      const actual = new Set(m.signers.map((s) => b4a.toString(s.publicKey, 'hex')))
      if (wanted.size !== actual.size || [...actual].some((s) => !wanted.has(s))) {
        throw new ScitError(
          'VERIFICATION',
          `the view is signed by ${actual.size} keys that are not the ${wanted.size} indexers it records`
        )
      }
      return time
    })
  }

  private async signerOf(writer: Buffer): Promise<Buffer> {
    const core = this.store.get({ key: writer })
    try {
      await core.ready()
      if (core.manifest === null) await core.update({ wait: true })
      const signer = core.manifest?.signers[0]?.publicKey
      // Not fetched yet: TIMEOUT, not VERIFICATION, so the view is tried again.
      if (signer === undefined)
        throw new ScitError('TIMEOUT', `no peer gave the manifest of indexer ${shortKey(writer)}`)
      return signer
    } finally {
      await core.close()
    }
  }

  private async follow(key: Buffer, shown: boolean): Promise<void> {
    const core = this.store.get({ key })
    const bee = new Hyperbee(core, BEE)
    await bee.ready()
    if (this.current !== null && b4a.equals(this.current.core.key, key)) {
      await bee.close() // followed meanwhile: a late check and a retry's both ended well
      if (shown) this.showed()
      return
    }
    const previous = this.current
    this.current = { core, bee }
    core.on('append', this.onappend)
    if (previous !== null) {
      previous.core.off('append', this.onappend)
      await previous.bee.close()
    }
    await this.ownCore.setUserData(VIEW_KEY, key)
    log.info('following view', { view: shortKey(key), length: core.length })
    if (shown) this.showed()
    this.changed()
  }

  private showed(): void {
    this.shown = true
    for (const resolve of this.known.splice(0)) resolve()
  }

  private changed(): void {
    if (this.current === null) return
    this.lookAllAt = Math.max(this.lookAllAt, this.current.core.length, 1)
    this.emit('update')
  }

  async update(): Promise<void> {
    if (this.current !== null) await this.current.core.update({ wait: true })
  }

  async catchUp(timeout = 30_000): Promise<void> {
    if (!this.shown) await this.viewKnown(timeout)
    await raceTimeout(this.update(), timeout)
  }

  replicate(stream: unknown): unknown {
    return this.store.replicate(stream)
  }

  /** Nothing is applied here: waiters look their op up after each change. */
  takeApplied(): { hints: Hint[]; lookAllAt: number } {
    const out = { hints: [], lookAllAt: this.lookAllAt }
    this.lookAllAt = 0
    return out
  }

  appliedYet(_id: Id): boolean {
    return true
  }

  pending(): Buffer[] {
    return this.outbox.pending()
  }

  /** Ops sent are kept in the outbox until final, and a final op's seq is in the view. */
  async lastSeqSent(author: Buffer): Promise<number> {
    return this.outbox.lastSeq(author)
  }

  async append(envelopes: Buffer[]): Promise<void> {
    if (envelopes.length === 0) return
    if (this.closing !== null) throw new ScitError('CLOSED', 'the follower is closed')
    await this.outbox.add(envelopes)
    // Refused as stamped ahead, the client seals them again (market/clock.ts).
    await this.send(envelopes).catch((err) =>
      this.outbox.refused(envelopes, err, { resealed: true })
    )
  }

  private async send(envelopes: Buffer[]): Promise<void> {
    const deadline = Date.now() + RELAY_WAIT
    while (this.closing === null) {
      if (this.relay !== null && (await this.relay(envelopes))) return
      if (Date.now() >= deadline) break
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    throw new ScitError(
      'TIMEOUT',
      `no indexer of market ${encodeKey(this.key)} took the ops within ${RELAY_WAIT} ms; they are kept and sent again`
    )
  }
}

const BEE = { keyEncoding: 'utf-8', valueEncoding: 'binary', extension: false } as const

async function timeOf(bee: Hyperbee): Promise<number> {
  const snap = bee.checkout(bee.core.length)
  try {
    return await Q.engineTime(HyperbeeView.reading(snap))
  } finally {
    await snap.close()
  }
}
