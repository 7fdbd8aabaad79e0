/**
 * The population of the market simulation (test/bench/market-sim.ts): NODES nodes renewing their offers, BOTS bots
 * bidding, settling, closing and paying each other, as signed ops in engine time. The op mix is what that
 * population makes in real time (`REAL_RATES`); engine time advances `step` ms per op, so a year of it fits in the
 * ops the simulation runs, and the market's offer TTL is scaled to that step (every node renews in time).
 *
 * A bid that fills makes trade `<bid id>.0` (market/engine/book.ts), so the population settles and closes trades
 * without reading the market; one that rests or is refused makes a settle the market refuses, as a bot's would.
 */
import b4a from 'b4a'
import { seal, envelopeId } from '../../lib/envelope'
import type { TypeName } from '../../lib/envelope'
import { generateKeyPair, KeyPair } from '../../lib/identity'
import { encodeBody } from '../../market/engine/ops'
import { offerBody, bidBody, resources, prng } from '../helpers/market'
import { GiB } from '../../lib/resources'

export const HOUR = 3_600_000
export const DAY = 24 * HOUR

/** Real-time rates (ops/s) a population makes: nodes renew three times per 30-minute TTL; each bot bids once an
 * hour for a 6-hour lease, settles it, closes half of them early, and pays someone once an hour. */
export function realRates(nodes: number, bots: number): Record<string, number> {
  return {
    'offer-update': nodes / 600,
    bid: bots / 3600,
    settle: bots / 3600,
    close: bots / 7200,
    transfer: bots / 3600
  }
}

interface Actor {
  kp: KeyPair
  seq: number
}

export class Population {
  readonly nodes: Actor[]
  readonly bots: Actor[]
  readonly faucet: Actor
  /** Engine time of the next op. */
  time: number
  readonly counts: Record<string, number> = {}
  private readonly rand = prng(28)
  private readonly mix: Array<[string, number]>
  private renewNext = 0
  private readonly toSettle: Array<{ bot: Actor; trade: string; by: number }> = []
  private readonly leases: Array<{ bot: Actor; trade: string; end: number }> = []
  private readonly offerBytes: Buffer

  constructor(
    nodes: number,
    bots: number,
    start: number,
    readonly step: number,
    readonly faucetKey: KeyPair
  ) {
    this.nodes = Array.from({ length: nodes }, () => ({ kp: generateKeyPair(), seq: 0 }))
    this.bots = Array.from({ length: bots }, () => ({ kp: generateKeyPair(), seq: 0 }))
    this.faucet = { kp: faucetKey, seq: 0 }
    this.time = start
    const rates = realRates(nodes, bots)
    const total = Object.values(rates).reduce((a, b) => a + b, 0)
    let acc = 0
    this.mix = Object.entries(rates).map(([k, v]) => [k, (acc += v / total)])
    this.offerBytes = encodeBody(
      'offer',
      offerBody({
        resources: resources({ cpu: 16_000, memory: 64 * GiB, ssd: 1024 * GiB }),
        minLease: 0,
        maxLease: 30 * DAY
      })
    )
  }

  /** Offer TTL for the market: a node renews every `nodes / share of offers` ops; twice that leaves room. */
  get offerTtl(): number {
    return Math.ceil((2 * this.nodes.length * this.step) / this.mix[0][1])
  }

  private op(a: Actor, type: TypeName, body: Buffer): Buffer {
    this.counts[type] = (this.counts[type] ?? 0) + 1
    return seal(a.kp, { type, seq: ++a.seq, timestamp: this.time, body })
  }

  /** Every node's first offer and every bot's deposit. */
  opening(): Buffer[] {
    const out: Buffer[] = []
    for (const n of this.nodes) out.push(this.op(n, 'offer', this.offerBytes))
    for (const b of this.bots)
      out.push(
        this.op(this.faucet, 'deposit', encodeBody('deposit', { to: b.kp.publicKey, amount: 1e12 }))
      )
    return out
  }

  /** The next `n` ops of the stream. */
  next(n: number): Buffer[] {
    const out: Buffer[] = []
    for (let i = 0; i < n; i++) {
      this.time += this.step
      out.push(this.one())
    }
    return out
  }

  private one(): Buffer {
    const due = this.toSettle[0]
    if (due !== undefined && due.by <= this.time) {
      this.toSettle.shift()
      const body = { trade: due.trade, contract: b4a.alloc(32, 1), manifest: b4a.alloc(32, 2) }
      this.leases.push({ bot: due.bot, trade: due.trade, end: this.time + 6 * HOUR })
      return this.op(due.bot, 'settle', encodeBody('settle', body))
    }
    const r = this.rand()
    const kind = this.mix.find(([, p]) => r <= p)?.[0] ?? 'offer-update'
    if (kind === 'bid') {
      const bot = this.pick(this.bots)
      const body = bidBody({
        resources: resources({ cpu: 1000, memory: 2 * GiB }),
        maxPrice: 1_000_000,
        duration: 6 * HOUR,
        expiry: this.time + HOUR
      })
      const e = this.op(bot, 'bid', encodeBody('bid', body))
      // Settled some ops later, well within the settlement window.
      this.toSettle.push({ bot, trade: `${envelopeId(e)}.0`, by: this.time + 20 * this.step })
      return e
    }
    if (kind === 'close' && this.leases.length > 0) {
      const lease = this.leases.splice(Math.floor(this.rand() * this.leases.length), 1)[0]
      if (lease.end > this.time)
        return this.op(
          lease.bot,
          'close',
          encodeBody('close', { trade: lease.trade, reason: 'done' })
        )
    }
    if (kind === 'transfer') {
      const to = this.pick(this.bots).kp.publicKey
      return this.op(this.pick(this.bots), 'transfer', encodeBody('transfer', { to, amount: 1 }))
    }
    const node = this.nodes[this.renewNext++ % this.nodes.length]
    return this.op(node, 'offer-update', this.offerBytes)
  }

  private pick<T>(list: T[]): T {
    return list[Math.floor(this.rand() * list.length)]
  }
}
