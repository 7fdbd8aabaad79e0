/**
 * The market's invariants, checked on every signed view the soak's own follower reads (a read-only peer in the
 * soak's process, which no fault touches), and on what every other peer says it reads (its probe file):
 *   money: Σ balances + Σ escrow = minted, no balance or escrow negative, and per trade escrow + paid + refunded
 *     = its lease's cost once settled (nothing paid twice);
 *   capacity: per offer, the live trades on its node fit its total, and available = total − what they hold;
 *     no bid has more trades than replicas, each replica once;
 *   signed views: the view never forks (truncate) nor changes key, and two peers that read the same view at the
 *     same signed length hold the same tree hash.
 */
import fs from 'fs'
import path from 'path'
import type Hyperbee from 'hyperbee'
import { RESOURCE_KINDS, ZERO, Resources } from '../../lib/resources'
import { MarketPeer } from '../../market/peer'
import { HyperbeeView } from '../../market/hyperbee-view'
import * as K from '../../market/engine/keys'
import { leaseCost } from '../../market/engine/price'
import { decode, offerRecord, tradeRecord, bidRecord, uintRecord } from '../../market/messages'
import type { View } from '../../market/types'
import type { Cluster } from './cluster'
import safetyCatch from 'safety-catch'
import { raceTimeout, TIMED_OUT } from '../../lib/timeout'

export interface Violation {
  at: number
  invariant: string
  message: string
}

export type Report = (invariant: string, message: string) => void

/** Every trade of the final signed view: its node, whether it was ever settled, its state. */
export type FinalTrades = Map<string, { node: string; start: number | null; state: string }>

export interface Probe {
  name: string
  pid: number
  at: number
  keys: string[]
  market?: { view: string; signed: number; hash: string | null; error?: string }
}

export class Checker {
  peer: MarketPeer | null = null
  readonly counts = { views: 0, money: 0, trades: 0, capacity: 0, bids: 0, probes: 0, compared: 0 }
  /** The latest signed view checked: its length and what it held. */
  last = { length: 0, minted: 0, trades: 0, time: 0 }
  viewKey: string | null = null
  /** Tree hash per (view, signed length), from this follower and every probe. */
  private readonly hashes = new Map<string, string>()
  private checking: Promise<void> | null = null
  private again = false
  private closing = false
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly cluster: Cluster,
    private readonly report: Report
  ) {}

  async open(): Promise<void> {
    this.peer = new MarketPeer({
      data: this.cluster.data('checker'),
      identity: null,
      market: this.cluster.market,
      bootstrap: this.cluster.net.bootstrap,
      follow: true,
      announce: false,
      joinTimeout: 120_000
    })
    await this.peer.ready()
    this.peer.client.on('update', () => this.check())
    this.timer = setInterval(() => {
      this.check()
      this.probes()
    }, 1000)
    this.check()
  }

  /**
   * Bounded: soak30-q37 hung here for good once every process was down (a check waiting on a block no peer was left
   * to send, or the peer's close behind it). A check still running after 15 s fails when the store closes under it.
   */
  async close(): Promise<void> {
    this.closing = true
    if (this.timer !== null) clearInterval(this.timer)
    await raceTimeout(this.checking ?? Promise.resolve(), 15_000)
    if ((await raceTimeout(this.peer?.close() ?? Promise.resolve(), 60_000)) === TIMED_OUT)
      this.report('soak', "the checker's market peer did not close within 60 s")
  }

  /** One check at a time; updates meanwhile make one more. */
  check(): void {
    if (this.closing) return
    if (this.checking !== null) {
      this.again = true
      return
    }
    this.checking = this.run()
      .catch((err: Error) => {
        if (!this.closing) this.report('checker', `a check failed to run: ${err.message}`)
      })
      .finally(() => {
        this.checking = null
        if (this.again) {
          this.again = false
          this.check()
        }
      })
  }

  /** Resolves once a check began after this call has ended. */
  async settled(): Promise<void> {
    await this.checking?.catch(safetyCatch)
    this.check()
    await this.checking?.catch(safetyCatch)
  }

  private async run(): Promise<void> {
    const peer = this.peer
    if (peer === null) return
    const core = peer.ledger.view.core
    const key = core.key.toString('hex')
    if (this.viewKey === null) {
      this.viewKey = key
      // A signed core that truncates was signed twice at one length: the signed prefix changed.
      core.on('truncate', (length: number) =>
        this.report(
          'signed-prefix',
          `the indexers' signed view ${key.slice(0, 16)}… was truncated to ${length}`
        )
      )
    } else if (key !== this.viewKey) {
      this.report(
        'signed-prefix',
        `the market's signed view changed core: ${this.viewKey.slice(0, 16)}… → ${key.slice(0, 16)}…`
      )
      this.viewKey = key
    }
    const length = core.length
    if (length === 0 || length === this.last.length) return
    const snap = peer.ledger.finalCheckout()
    try {
      await this.checkView(HyperbeeView.reading(snap), length)
      this.note(key, length, (await core.treeHash(length)).toString('hex'), 'soak follower')
    } finally {
      await (snap as Hyperbee).close()
    }
  }

  private async checkView(view: View, length: number): Promise<void> {
    this.counts.views++
    const at = `view length ${length}`
    let balances = 0
    for await (const { key, value } of view.range(K.prefixRange('balance/'))) {
      const b = decode(uintRecord, value)
      if (!Number.isSafeInteger(b) || b < 0) this.report('money', `${at}: ${key} is ${b}`)
      balances += b
    }
    let escrow = 0
    let trades = 0
    const held = new Map<string, Resources>()
    const perBid = new Map<string, Set<number>>()
    for await (const { value } of view.range(K.prefixRange('trade/'))) {
      const t = decode(tradeRecord, value)
      trades++
      if (t.escrow < 0 || t.paid < 0 || t.refunded < 0)
        this.report(
          'money',
          `${at}: trade ${t.id} has escrow ${t.escrow}, paid ${t.paid}, refunded ${t.refunded}`
        )
      escrow += t.escrow
      const cost = leaseCost(t.price, t.duration)
      const moved = t.escrow + t.paid + t.refunded
      if (t.start !== null ? moved !== cost : moved !== 0)
        this.report(
          'money',
          `${at}: trade ${t.id} (${t.state}) holds ${t.escrow} + paid ${t.paid} + refunded ${t.refunded} = ${moved}, its lease costs ${t.start !== null ? cost : 0}`
        )
      this.counts.trades++
      if (t.state === 'matched' || t.state === 'settled') {
        const h = held.get(t.node) ?? { ...ZERO }
        for (const k of RESOURCE_KINDS) h[k] += t.resources[k]
        held.set(t.node, h)
      }
      const replicas = perBid.get(t.bid) ?? new Set<number>()
      if (replicas.has(t.replica))
        this.report('capacity', `${at}: bid ${t.bid} has replica ${t.replica} twice`)
      replicas.add(t.replica)
      perBid.set(t.bid, replicas)
    }
    const mintedBuf = await view.get(K.META_MINTED)
    const minted = mintedBuf === null ? 0 : decode(uintRecord, mintedBuf)
    this.counts.money++
    if (balances + escrow !== minted)
      this.report(
        'money',
        `${at}: Σ balances ${balances} + Σ escrow ${escrow} = ${balances + escrow}, minted ${minted}`
      )

    for await (const { value } of view.range(K.prefixRange('offer/'))) {
      const o = decode(offerRecord, value)
      const h = held.get(o.node) ?? { ...ZERO }
      this.counts.capacity++
      for (const k of RESOURCE_KINDS) {
        if (h[k] > o.resources[k])
          this.report(
            'capacity',
            `${at}: node ${o.node.slice(0, 8)} sold ${k} ${h[k]} of its ${o.resources[k]}`
          )
        else if (o.available[k] !== o.resources[k] - h[k])
          this.report(
            'capacity',
            `${at}: node ${o.node.slice(0, 8)} has ${k} ${o.available[k]} available, but ${o.resources[k]} − ${h[k]} held by live trades = ${o.resources[k] - h[k]}`
          )
      }
      held.delete(o.node)
    }
    for (const node of held.keys())
      this.report('capacity', `${at}: node ${node.slice(0, 8)} holds live trades and has no offer`)
    for await (const { value } of view.range(K.prefixRange('bid/'))) {
      const b = decode(bidRecord, value)
      this.counts.bids++
      const n = perBid.get(b.id)?.size ?? 0
      if (
        n > b.replicas ||
        b.trades.length > b.replicas ||
        (b.state === 'filled' && b.trades.length !== b.replicas)
      )
        this.report(
          'capacity',
          `${at}: bid ${b.id} (${b.state}, ${b.replicas} replicas) has ${n} trades`
        )
    }
    const timeBuf = await view.get(K.META_TIME)
    this.last = { length, minted, trades, time: timeBuf === null ? 0 : decode(uintRecord, timeBuf) }
  }

  /** Two reads of one view at one signed length must hold one tree hash. */
  private note(view: string, length: number, hash: string, who: string): void {
    const k = `${view}:${length}`
    const seen = this.hashes.get(k)
    if (seen === undefined) {
      this.hashes.set(k, `${hash} ${who}`)
      return
    }
    this.counts.compared++
    const [h, first] = seen.split(' ')
    if (h !== hash)
      this.report(
        'signed-prefix',
        `${who} holds view ${view.slice(0, 16)}… at signed length ${length} with hash ${hash.slice(0, 16)}…, ${first} with ${h.slice(0, 16)}…`
      )
  }

  async trades(): Promise<FinalTrades> {
    const out: FinalTrades = new Map()
    const peer = this.peer
    if (peer === null) return out
    const snap = peer.ledger.finalCheckout()
    try {
      for await (const { value } of HyperbeeView.reading(snap).range(K.prefixRange('trade/'))) {
        const t = decode(tradeRecord, value)
        out.set(t.id, { node: t.node, start: t.start, state: t.state })
      }
    } finally {
      await (snap as Hyperbee).close()
    }
    return out
  }

  /** What every peer process says it reads. */
  probes(): Probe[] {
    const dir = path.join(this.cluster.dir, 'faults')
    const out: Probe[] = []
    for (const f of fs.readdirSync(dir)) {
      if (!f.endsWith('.probe.json')) continue
      let p: Probe
      try {
        p = {
          name: f.slice(0, -'.probe.json'.length),
          ...(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Omit<Probe, 'name'>)
        }
      } catch {
        continue
      }
      out.push(p)
      const m = p.market
      if (m === undefined || m.error !== undefined || m.hash === null || m.signed === 0) continue
      this.counts.probes++
      this.note(m.view, m.signed, m.hash, p.name)
      if (
        this.viewKey !== null &&
        m.view !== this.viewKey &&
        !this.cluster.cast.indexers.includes(p.name)
      )
        this.report(
          'signed-view',
          `${p.name} follows view ${m.view.slice(0, 16)}…, not the indexers' ${this.viewKey.slice(0, 16)}…`
        )
    }
    return out
  }
}
