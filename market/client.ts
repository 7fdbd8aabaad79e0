/**
 * The market client (MarketClient in market/types.ts): seals ops with its identity, waits for outcomes, reads the
 * view. Without an identity (or with `writable: false`) it is an explorer and never appends.
 */
import { EventEmitter } from 'events'
import { seal, envelopeId, envelopeEncoding, TYPES, TypeName } from '../lib/envelope'
import { ScitError } from '../lib/errors'
import { logger } from '../lib/log'
import type { KeyPair } from '../lib/identity'
import { encodeKey } from '../lib/keys'
import { decodeExact } from '../lib/codec'
import b4a from 'b4a'
import { decodeBody, encodeBody, isMarketOp } from './engine/ops'
import * as Q from './queries'
import { HyperbeeView } from './hyperbee-view'
import { Outcomes } from './outcomes'
import { lastSeq, lastSeqInView } from './seq'
import { isClockAhead } from './clock'
import type { MarketLedger } from './types'
import type { Genesis } from './messages'
import type {
  MarketClient,
  OpRequest,
  Id,
  Outcome,
  Offer,
  OfferFilter,
  Bid,
  BidBody,
  BidState,
  Trade,
  TradeFilter,
  Template,
  KeyText
} from './types'

const log = logger('client')
export const DEFAULT_OUTCOME_TIMEOUT = 30_000
/** Seals of one submit an indexer may refuse as stamped ahead of its clock before the error is the caller's. */
const SEAL_ATTEMPTS = 3
/** Times one op refused as a replay is sealed again before the refusal is the caller's. */
const RESEALS = 3
/** Ops remembered for sealing again; past this many, the oldest are forgotten (an op nobody waits for). */
const MAX_SEALED = 4096

/** An op as this client sealed it, with the times it was sealed again after a replay refusal. */
interface Sealable {
  type: TypeName
  body: Buffer
  reseals: number
}

export interface ClientOptions {
  identity: KeyPair | null
  /** false: read-only even with an identity. */
  writable?: boolean
  now?: () => number
  /** ms an outcome() or submitAndWait() without a timeout of its own waits before TIMEOUT (default 30 s). */
  outcomeTimeout?: number
}

export class Client extends EventEmitter implements MarketClient {
  readonly identity: KeyText
  readonly writable: boolean
  private readonly keyPair: KeyPair | null
  private readonly now: () => number
  private readonly outcomeTimeout: number
  private readonly outcomes: Outcomes
  private seq = 0
  /** Ops this client sealed, by id, until their final outcome: one refused as a replay is sealed again. */
  private readonly sealed = new Map<Id, Sealable>()
  /** A refused op's id, and the id of its copy sealed again: the caller holds the first. */
  private readonly resealed = new Map<Id, Promise<Id>>()
  private opening: Promise<void> | null = null
  private closed = false
  private readonly onupdate = (): void => {
    this.outcomes.check()
    this.emit('update')
  }

  constructor(
    readonly ledger: MarketLedger,
    opts: ClientOptions
  ) {
    super()
    this.keyPair = opts.identity
    this.identity = opts.identity === null ? '' : encodeKey(opts.identity.publicKey)
    this.writable = opts.identity !== null && opts.writable !== false
    this.now = opts.now ?? Date.now
    this.outcomeTimeout = opts.outcomeTimeout ?? DEFAULT_OUTCOME_TIMEOUT
    this.outcomes = new Outcomes(ledger)
  }

  get key(): Buffer {
    return this.ledger.key
  }

  get lastSeq(): number {
    return this.seq
  }

  ready(): Promise<void> {
    if (this.opening === null) this.opening = this.open()
    return this.opening
  }

  private async open(): Promise<void> {
    await this.ledger.ready()
    if (this.keyPair !== null && this.writable)
      this.seq = await lastSeq(this.ledger, this.keyPair.publicKey)
    this.ledger.on('update', this.onupdate)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.ledger.off('update', this.onupdate)
    this.outcomes.close()
  }

  async submit(ops: OpRequest[]): Promise<Id[]> {
    if (!this.writable || this.keyPair === null)
      throw new ScitError(
        'READ_ONLY',
        'this market client is read-only (an explorer): it cannot submit ops'
      )
    if (this.closed) throw new ScitError('CLOSED', 'the market client is closed')
    await this.ready()
    const genesis = ops.some(
      (op) => op.type === 'governance' && (op.body as { action?: string }).action === 'genesis'
    )
    if (!genesis) await this.synced()
    const bodies = ops.map((op): Sealable => {
      if (!isMarketOp(op.type))
        throw new ScitError('INVALID_ARGUMENT', `"${op.type}" is not a market op`)
      return { type: op.type as TypeName, body: encodeBody(op.type, op.body as never), reseals: 0 }
    })
    return this.send(bodies, this.keyPair, !genesis)
  }

  /** Seal `ops` with fresh seqs (above the view's, when `fresh`) and append them; returns their ids. */
  private async send(ops: Sealable[], keyPair: KeyPair, fresh: boolean): Promise<Id[]> {
    if (fresh) {
      // Another process signing as this identity may have used higher seqs since open.
      // Read this.seq only after the await: concurrent submits advance it meanwhile.
      const inView = await lastSeqInView(this.ledger, keyPair.publicKey)
      this.seq = Math.max(this.seq, inView)
    }
    for (let attempt = 1; ; attempt++) {
      // Sealed synchronously, so concurrent submits take distinct, increasing seqs. A refused seal gets new seqs:
      // nothing of it was appended, and reusing a seq could let a later submit's op overtake it.
      const envelopes = ops.map(({ type, body }) =>
        seal(keyPair, { type, seq: ++this.seq, timestamp: this.now(), body })
      )
      try {
        await this.ledger.append(envelopes)
        const ids = envelopes.map((e) => envelopeId(e))
        ids.forEach((id, i) => this.sealed.set(id, ops[i]))
        trim(this.sealed)
        return ids
      } catch (err) {
        // The indexer's answer set this peer's clock (market/clock.ts): seal again with it.
        if (!isClockAhead(err) || attempt >= SEAL_ATTEMPTS) throw err
      }
    }
  }

  /**
   * An op of this client's refused as a replay (a later seq of its author went in first: concurrent ops through
   * different relays) went nowhere: its final outcome is the first the engine recorded for its exact bytes (an id's
   * outcome is written once), so it was never accepted. Sealed again with a seq above every one sent, once however
   * many wait: the copy's outcome is the op's (its id is the copy's). The one it replaces leaves the outbox as final.
   */
  private reseal(id: Id): Promise<Id> | null {
    let copy = this.resealed.get(id)
    if (copy !== undefined) return copy
    const op = this.sealed.get(id)
    if (op === undefined || op.reseals >= RESEALS || this.keyPair === null) return null
    this.sealed.delete(id)
    copy = this.send([{ ...op, reseals: op.reseals + 1 }], this.keyPair, true).then(([next]) => {
      log.info('an op refused as a replay is sealed again', { op: id, as: next })
      return next
    })
    this.resealed.set(id, copy)
    trim(this.resealed)
    return copy
  }

  /** Waits for final outcomes by default. */
  async submitAndWait(
    ops: OpRequest[],
    opts: { final?: boolean; timeout?: number } = {}
  ): Promise<Outcome[]> {
    const ids = await this.submit(ops)
    return Promise.all(
      ids.map((id) => this.outcome(id, { final: opts.final ?? true, timeout: opts.timeout }))
    )
  }

  /** Resolve once the view has genesis: an op appended before would first be applied against an empty market. */
  async synced(timeout = DEFAULT_OUTCOME_TIMEOUT): Promise<void> {
    await this.ready()
    const has = async (): Promise<boolean> => (await Q.getGenesis(this.view)) !== null
    if (await has()) return
    await new Promise<void>((resolve, reject) => {
      const done = (err: Error | null): void => {
        clearTimeout(timer)
        this.ledger.off('update', check)
        if (err === null) resolve()
        else reject(err)
      }
      const check = (): void => {
        has().then((ok) => {
          if (ok) done(null)
        }, done)
      }
      const timer = setTimeout(
        () =>
          done(
            new ScitError(
              'TIMEOUT',
              `no peer of market ${encodeKey(this.key)} answered within ${timeout} ms: is an indexer online?`
            )
          ),
        timeout
      )
      this.ledger.on('update', check)
      check()
    })
  }

  /** An op of this client's refused as a replay is sealed again (see `reseal`): the outcome is its copy's. */
  async outcome(id: Id, opts: { final?: boolean; timeout?: number } = {}): Promise<Outcome> {
    await this.ready()
    const final = opts.final === true
    const deadline = Date.now() + (opts.timeout ?? this.outcomeTimeout)
    const left = (): number => Math.max(0, deadline - Date.now())
    let o = await this.outcomes.wait(id, final, left())
    if (o.accepted || o.reason !== 'replay') {
      if (final) this.sealed.delete(id)
      return o
    }
    // Only a final refusal says the bytes went nowhere: until then a reorg may put them before the later seq.
    if (!final) o = await this.outcomes.wait(id, true, left())
    const copy = o.reason === 'replay' ? this.reseal(id) : null
    if (copy === null) {
      this.sealed.delete(id)
      return o
    }
    return this.outcome(await copy, { final, timeout: left() })
  }

  private get view(): HyperbeeView {
    return HyperbeeView.reading(this.ledger.view)
  }

  time(): Promise<number> {
    return Q.engineTime(this.view)
  }
  genesis(): Promise<Genesis | null> {
    return Q.getGenesis(this.view)
  }
  offer(node: KeyText): Promise<Offer | null> {
    return Q.getOffer(this.view, node)
  }
  offers(filter?: OfferFilter): Promise<Offer[]> {
    return Q.listOffers(this.view, filter)
  }
  bid(id: Id): Promise<Bid | null> {
    return Q.getBid(this.view, id)
  }
  bids(filter?: { bot?: KeyText; state?: BidState }): Promise<Bid[]> {
    return Q.listBids(this.view, filter)
  }
  sentBids(): Array<{ id: Id; body: BidBody }> {
    const me = this.keyPair?.publicKey
    if (me === undefined) return []
    const sent: Array<{ id: Id; body: BidBody }> = []
    for (const buf of this.ledger.pending()) {
      const e = decodeExact(envelopeEncoding, buf)
      if (e.type === TYPES.bid && b4a.equals(e.author, me))
        sent.push({ id: envelopeId(buf), body: decodeBody('bid', e.body) })
    }
    return sent
  }
  trade(id: Id): Promise<Trade | null> {
    return Q.getTrade(this.view, id)
  }
  trades(filter?: TradeFilter): Promise<Trade[]> {
    return Q.listTrades(this.view, filter)
  }
  balance(key: KeyText): Promise<number> {
    return Q.balance(this.view, key)
  }
  templates(): Promise<Template[]> {
    return Q.listTemplates(this.view)
  }
  template(name: string, version?: number): Promise<Template | null> {
    return Q.getTemplate(this.view, name, version)
  }

  override on(event: 'update', fn: () => void): this {
    return super.on(event, fn)
  }
  override off(event: 'update', fn: () => void): this {
    return super.off(event, fn)
  }
}

/** Forget the oldest entries past MAX_SEALED. */
function trim(map: Map<Id, unknown>): void {
  for (const id of map.keys()) {
    if (map.size <= MAX_SEALED) return
    map.delete(id)
  }
}
