/**
 * The market relay (protomux): a non-writer hands its signed ops to an indexer, which appends them to its own
 * core, so every peer applies them once instead of an optimistic block's re-runs. A relay is trusted with
 * availability only: authors sign the envelopes, the relay verifies them before appending, and a relay that drops
 * ops is routed around by the sender's outbox. Governance ops are never relayed (genesis needs the bootstrap writer).
 */
import c from 'compact-encoding'
import b4a from 'b4a'
import Protomux, { Channel, Message } from 'protomux'
import type { SwarmConnection } from 'hyperswarm'
import { struct, optional, nonNullBuffer } from '../lib/codec'
import { envelopeId, TYPES } from '../lib/envelope'
import { ScitError, isScitError } from '../lib/errors'
import { Requests } from '../lib/requests'
import { logger } from '../lib/log'
import { MARKET_TYPES } from './engine'
import { openMemo } from './engine/open-memo'
import { checkAhead } from './signature-pool'
import { MAX_BLOCK_BYTES, MAX_BLOCK_OPS, split } from './block'
import type { MarketLedger } from './types'
import { PeerClock, ClockAhead, isClockAhead, admit, MAX_AHEAD } from './clock'

const log = logger('relay')

export const RELAY_PROTOCOL = 'scit/market-relay/v4'
/** Large, as a relay appends one request at once: a split append gets re-applied after the indexers' acks. */
export const MAX_RELAY_OPS = 8 * MAX_BLOCK_OPS
const MAX_RELAY_BYTES = 4 * MAX_BLOCK_BYTES
/** Ops a relay lets wait for its appends before it answers "busy" (the sender then appends them itself). */
const MAX_BACKLOG = 4 * MAX_RELAY_OPS
/** A relay that does not answer by then is passed over; the ops go out in an optimistic block. */
export const RELAY_TIMEOUT = 10_000
/** A sender moves to a relay it prefers only after this long without sending (see `pick`). */
const SWITCH_IDLE = 5_000
/** A relay its sender's outbox got stuck behind is passed over for this long (see `passOver`). */
const PASS_OVER = 60_000

interface Submit {
  id: number
  envelopes: Buffer[]
}
interface Receipt {
  id: number
  error: string | null
  /** The error's code (CLOCK_AHEAD: the sender corrects its clock and seals again). */
  code: string | null
  /** The relay's clock as it answered (market/clock.ts). */
  time: number
}
/** Whether this end relays (and from which writer core), and which view it reads (a follower checks it). */
interface Hello {
  serves: boolean
  view: Buffer | null
  writer: Buffer | null
  /** Its clock as it opened the channel. */
  time: number
}

// A missing envelope decodes empty, which `open` refuses with a reason like any bad op.
const submitEncoding = struct<Submit>([
  ['id', c.uint],
  ['envelopes', c.array(nonNullBuffer())]
])
const receiptEncoding = struct<Receipt>([
  ['id', c.uint],
  ['error', optional(c.string)],
  ['code', optional(c.string)],
  ['time', c.uint]
])
const helloEncoding = struct<Hello>([
  ['serves', c.bool],
  ['view', optional(c.fixed32)],
  ['writer', optional(c.fixed32)],
  ['time', c.uint]
])

class RelayChannel {
  /** The other end said it relays, and has not refused or failed us since. */
  usable = false
  /** The writer core the other end appends relayed ops to. */
  writer: Buffer | null = null
  /** The view the other end last said it reads. */
  shown: Buffer | null = null
  /** Until then another relay is preferred: its sender's outbox got stuck behind it (`Relays.passOver`). */
  passedOver = 0
  private readonly requests = new Requests()
  private readonly submitMsg: Message<Submit>
  private readonly receiptMsg: Message<Receipt>
  private readonly viewMsg: Message<Buffer>
  private readonly writerMsg: Message<Buffer | null>
  /** The writer core this end last said it relays from. */
  private said: Buffer | null

  /** Null when already open, or the remote closed it. */
  static open(mux: Protomux, id: Buffer, relays: Relays): RelayChannel | null {
    const channel = mux.createChannel({
      protocol: RELAY_PROTOCOL,
      id,
      handshake: helloEncoding,
      onopen: (hello: Hello) => {
        ch.usable = hello.serves
        ch.writer = hello.writer
        ch.shown = hello.view
        if (hello.serves) relays.clock.measure(ch, hello.time, relays.clock.local())
        if (hello.view !== null) relays.onview(hello.view)
      },
      onclose: () => {
        ch.usable = false
        relays.clock.forget(ch)
        ch.requests.failAll('the relay channel closed')
      }
    })
    if (channel === null) return null
    const ch = new RelayChannel(channel, relays)
    return ch
  }

  private constructor(
    readonly channel: Channel,
    private readonly relays: Relays
  ) {
    this.submitMsg = channel.addMessage({
      encoding: submitEncoding,
      onmessage: (m) => this.onsubmit(m)
    })
    this.receiptMsg = channel.addMessage({
      encoding: receiptEncoding,
      onmessage: (r) => this.requests.settle(r.id, r)
    })
    this.viewMsg = channel.addMessage({
      encoding: c.fixed32,
      onmessage: (key) => {
        this.shown = key
        relays.onview(key)
      }
    })
    // A peer voted indexer (or removed) after the channel opened says so: the other end relays through it, and an
    // indexer counts it among those it reaches (market/peer.ts rediscover).
    this.writerMsg = channel.addMessage({
      encoding: optional(c.fixed32),
      onmessage: (writer) => {
        this.usable = writer !== null
        this.writer = writer
      }
    })
    const writer = relays.writer()
    this.said = writer
    channel.open({
      serves: writer !== null,
      view: relays.viewKey(),
      writer,
      time: relays.clock.now()
    })
  }

  view(key: Buffer): void {
    this.viewMsg.send(key)
  }

  /** Tell the other end the writer core this peer relays from now (null: none), if it told another one. */
  serving(writer: Buffer | null): void {
    if (
      writer === null || this.said === null ? writer === this.said : b4a.equals(writer, this.said)
    )
      return
    this.said = writer
    this.writerMsg.send(writer)
  }

  async send(envelopes: Buffer[]): Promise<void> {
    const clock = this.relays.clock
    const sent = clock.local()
    const r = await this.requests.request<Receipt>(
      (id) => this.submitMsg.send({ id, envelopes }),
      RELAY_TIMEOUT,
      'the relay'
    )
    clock.measure(this, r.time, sent, clock.local())
    if (r.code === 'CLOCK_AHEAD') throw new ClockAhead(r.time, `the relay refused: ${r.error}`)
    if (r.error !== null) throw new ScitError('REJECTED', `the relay refused: ${r.error}`)
  }

  close(): void {
    this.channel.close()
  }

  private onsubmit(m: Submit): void {
    const reply = (err: Error | null): void => {
      const code = isScitError(err) ? err.code : null
      const time = this.relays.clock.now()
      this.receiptMsg.send({ id: m.id, error: err?.message ?? null, code, time })
    }
    this.relays.accept(m.envelopes).then(() => reply(null), reply)
  }
}

/** Relays for others when writable; sends its own ops through one relay while it lasts, to keep seq order. */
export class Relays {
  private readonly channels = new Set<RelayChannel>()
  private current: RelayChannel | null = null
  readonly counters = { served: 0, sent: 0 }

  private announced: Buffer | null = null
  private lastSent = 0
  /** Each request's signature check waits for the one before, to keep their order. */
  private turn: Promise<void> = Promise.resolve()
  private readonly onupdate = (): void => this.announce()

  /** `onview`: a peer reads this view of the market (a follower checks and may follow it). */
  constructor(
    private readonly ledger: MarketLedger,
    readonly onview: (key: Buffer) => void = () => {},
    readonly clock = new PeerClock(Date.now, () => ledger.writable)
  ) {
    ledger.on('update', this.onupdate)
  }

  /** The writer core this peer relays from: null when it does not. */
  writer(): Buffer | null {
    return this.serves() ? this.writerKey() : null
  }

  serves(): boolean {
    return this.ledger.writable
  }

  writerKey(): Buffer | null {
    return this.ledger.writerKey
  }

  /** Null until a quorum signed some of it: no one could fetch a signed block of it yet. */
  viewKey(): Buffer | null {
    try {
      const core = this.ledger.view.core
      return core.manifest !== null && core.manifest.signers.length > 0 && core.signedLength > 0
        ? core.key
        : null
    } catch {
      return null // a follower that has no view yet
    }
  }

  /** How many writers (indexers) this peer has a relay channel open with. */
  writers(): number {
    let n = 0
    for (const ch of this.channels) if (!ch.channel.closed && ch.writer !== null) n++
    return n
  }

  /** Whether a peer connected now reads this view (a follower retries a view's check only then). */
  shows(key: Buffer): boolean {
    for (const ch of this.channels)
      if (!ch.channel.closed && ch.shown !== null && b4a.equals(ch.shown, key)) return true
    return false
  }

  private announce(): void {
    const writer = this.writer()
    for (const ch of this.channels) if (!ch.channel.closed) ch.serving(writer)
    const key = this.viewKey()
    if (key === null || (this.announced !== null && b4a.equals(key, this.announced))) return
    this.announced = key
    for (const ch of this.channels) if (!ch.channel.closed) ch.view(key)
  }

  attach(conn: SwarmConnection): void {
    const mux = Protomux.from(conn)
    const id = this.ledger.discoveryKey
    if (mux.opened({ protocol: RELAY_PROTOCOL, id })) return
    const ch = RelayChannel.open(mux, id, this)
    if (ch === null) return
    this.channels.add(ch)
    conn.once('close', () => {
      this.channels.delete(ch)
      if (this.current === ch) this.current = null
    })
  }

  /** Once every channel attached so far has opened (or closed). */
  async opened(): Promise<void> {
    await Promise.all([...this.channels].map((ch) => ch.channel.fullyOpened()))
  }

  /** Send envelopes through a relay, in order. False when no relay took all of them. */
  async send(envelopes: Buffer[]): Promise<boolean> {
    const relay = this.pick()
    if (relay === null) return false
    this.lastSent = Date.now()
    try {
      await Promise.all(
        split(envelopes, MAX_RELAY_OPS, MAX_RELAY_BYTES).map((part) => relay.send(part))
      )
      this.counters.sent += envelopes.length
      return true
    } catch (err) {
      // The caller seals them again with the clock just learned (market/clock.ts); a relay whose clock is behind
      // the others' would refuse those too: the next request goes to another.
      if (isClockAhead(err)) {
        if (this.clock.now() - err.time > MAX_AHEAD / 2) relay.usable = false
        if (this.current === relay) this.current = null
        throw err
      }
      log.info('relay failed: appending ops ourselves', { error: (err as Error).message })
      relay.usable = false
      if (this.current === relay) this.current = null
      return false
    }
  }

  /**
   * No op sent became final for a while (the outbox is stuck): the relay that took them may reach no quorum (it is
   * cut off from the other indexers, while this peer still reaches it), and it would take every resend too. The
   * resend, and the ops after it, go through another relay for PASS_OVER (this one still, if it is the only one).
   */
  passOver(): void {
    if (this.current === null) return
    this.current.passedOver = Date.now() + PASS_OVER
    this.current = null
  }

  close(): void {
    this.ledger.off('update', this.onupdate)
    for (const ch of this.channels) ch.close()
    this.channels.clear()
    this.current = null
  }

  /** All or none: every op is verified before any is appended. */
  async accept(envelopes: Buffer[]): Promise<void> {
    if (!this.serves()) throw new ScitError('REJECTED', 'this peer does not relay')
    if (envelopes.length === 0 || envelopes.length > MAX_RELAY_OPS)
      throw new ScitError('INVALID_ARGUMENT', `a request carries 1 to ${MAX_RELAY_OPS} ops`)
    if (bytes(envelopes) > MAX_RELAY_BYTES)
      throw new ScitError('INVALID_ARGUMENT', `a request carries at most ${MAX_RELAY_BYTES} bytes`)
    if (this.ledger.backlog + envelopes.length > MAX_BACKLOG)
      throw new ScitError('BUSY', 'the relay is busy')
    this.ledger.timeline?.mark(envelopes.map(envelopeId), 'received')
    const checked = checkAhead(envelopes)
    const turn = this.turn.then(() => checked)
    this.turn = turn
    await turn
    const stamps: number[] = []
    for (let i = 0; i < envelopes.length; i++) {
      const opened = openMemo(envelopes[i], envelopeId(envelopes[i]), MARKET_TYPES)
      if (!opened.ok) throw new ScitError('INVALID_ENVELOPE', `op ${i}: ${opened.message}`)
      if (opened.envelope.type === TYPES.governance)
        throw new ScitError('REJECTED', `op ${i}: governance ops are not relayed`)
      stamps.push(opened.envelope.timestamp)
    }
    admit(stamps, this.clock.now())
    log.debug('relaying', { ops: envelopes.length })
    // Queued synchronously: requests are appended in the order they arrived. Answered once queued: waiting for the
    // append made a sender wait for the apply call in progress too (seconds at 90 ops/s); its outbox keeps the ops
    // until final and sends them again if this relay never appends them.
    this.ledger
      .append(envelopes)
      .catch((err: Error) => log.info('relayed ops not appended', { error: err.message }))
    this.counters.served += envelopes.length
  }

  /**
   * The relay whose writer key is smallest: Autobase puts concurrent nodes in key order on the tip, so another
   * indexer's ack that arrives after the relay's ops sorts after them, and a reorg moves only acks (no engine run);
   * with the largest key every late ack moved the ops behind it (2-4 engine runs per op at 90 bids/s, against
   * 1.7-2 with the smallest, in the ledger bench). One author's ops must not overtake each other through two
   * relays: a sender keeps its relay while it uses it, and moves only after SWITCH_IDLE. A relay passed over
   * comes last.
   */
  private pick(): RelayChannel | null {
    const now = Date.now()
    const current = this.current
    const live = (ch: RelayChannel): boolean => ch.usable && !ch.channel.closed
    if (
      current !== null &&
      live(current) &&
      current.passedOver <= now &&
      now - this.lastSent < SWITCH_IDLE
    )
      return current
    // Every live one passed over: the one passed over longest ago (in turn, not the same one again and again).
    const rank = (ch: RelayChannel): number => (ch.passedOver > now ? ch.passedOver : 0)
    let best: RelayChannel | null = null
    for (const ch of this.channels) {
      if (!live(ch)) continue
      if (
        best === null ||
        rank(ch) < rank(best) ||
        (rank(ch) === rank(best) &&
          ch.writer !== null &&
          (best.writer === null || b4a.compare(ch.writer, best.writer) < 0))
      )
        best = ch
    }
    this.current = best
    return best
  }
}

function bytes(envelopes: Buffer[]): number {
  let n = 0
  for (const e of envelopes) n += e.byteLength
  return n
}
