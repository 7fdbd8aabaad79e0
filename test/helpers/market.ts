/**
 * Engine test helpers: identities that seal ops with a growing seq, a market
 * over a MemoryView with a test clock, body factories with sane defaults, and
 * the invariants every sequence must keep (checked after every op).
 */
import b4a from 'b4a'
import { seal } from '../../lib/envelope'
import { generateKeyPair, KeyPair } from '../../lib/identity'
import { encodeKey, hash } from '../../lib/keys'
import { GiB, RESOURCE_KINDS, Resources, ZERO, costFor } from '../../lib/resources'
import { apply } from '../../market/engine'
import { MemoryView } from '../../market/memory-view'
import { TRADE_STATES } from '../../market/messages'
import { encodeBody, Bodies, MarketOp } from '../../market/engine/ops'
import * as Q from '../../market/queries'
import { tradeFlows } from '../../market/history'
import { bucketOf } from '../../market/engine/keys'
import { capped } from '../../market/engine/counts'
import type { Outcome, Effects, OfferBody, BidBody, View, Trade, Offer } from '../../market/types'

export const T0 = 1_700_000_000_000
export const HOUR = 3_600_000

export class Actor {
  readonly keyPair: KeyPair
  readonly key: string
  seq = 0
  constructor(readonly name: string) {
    this.keyPair = generateKeyPair(hash('scit/test-identity', b4a.from(name)))
    this.key = encodeKey(this.keyPair.publicKey)
  }

  get publicKey(): Buffer {
    return this.keyPair.publicKey
  }

  /** Seal an op: next seq unless given, timestamp as given. */
  op<K extends MarketOp>(type: K, body: Bodies[K], timestamp: number, seq?: number): Buffer {
    const s = seq ?? ++this.seq
    if (s > this.seq) this.seq = s
    return seal(this.keyPair, { type, seq: s, timestamp, body: encodeBody(type, body) })
  }
}

export function resources(r: Partial<Resources>): Resources {
  return { ...ZERO, ...r }
}

/** 8 cores, 32 GiB, 1 TiB ssd; 100 per core-hour, 10 per GiB-hour of memory, 1 per GiB-hour of ssd. */
export function offerBody(o: Partial<OfferBody> = {}): OfferBody {
  return {
    resources: resources({ cpu: 8000, memory: 32 * GiB, ssd: 1024 * GiB }),
    prices: resources({ cpu: 100, memory: 10, ssd: 1 }),
    country: 'CH',
    city: 'Zurich',
    attributes: ['ssd'],
    minLease: 1,
    maxLease: 1000 * HOUR,
    ...o
  }
}

/** One replica of 1 core and 2 GiB for an hour (costs 120/h at the default offer prices). */
export function bidBody(b: Partial<BidBody> = {}): BidBody {
  return {
    resources: resources({ cpu: 1000, memory: 2 * GiB }),
    replicas: 1,
    countries: [],
    attributes: [],
    spread: false,
    maxPrice: 1000,
    duration: HOUR,
    expiry: T0 + 1000 * HOUR,
    exclude: [],
    ...b
  }
}

export interface Sent {
  outcome: Outcome
  effects: Effects | null
  id: string
}

/** A market in memory: a founder with genesis applied, one faucet, a clock that ticks 1 ms per op. */
export class Market {
  readonly view = new MemoryView()
  readonly founder = new Actor('founder')
  readonly faucet = new Actor('faucet')
  clock = T0
  checks = 0

  static async create(
    opts: { settlementWindow?: number; offerTtl?: number } = {}
  ): Promise<Market> {
    const m = new Market()
    const r = await m.send(
      m.founder,
      'governance',
      {
        action: 'genesis',
        faucets: [m.faucet.publicKey],
        settlementWindow: opts.settlementWindow ?? HOUR,
        offerTtl: opts.offerTtl ?? 0
      },
      { bootstrap: true }
    )
    if (!r.outcome.accepted) throw new Error(`genesis refused: ${r.outcome.message ?? ''}`)
    return m
  }

  /** Seal and apply an op; check the market's invariants afterwards. */
  async send<K extends MarketOp>(
    actor: Actor,
    type: K,
    body: Bodies[K],
    opts: { at?: number; seq?: number; bootstrap?: boolean } = {}
  ): Promise<Sent> {
    if (opts.at !== undefined) this.clock = opts.at
    else this.clock++
    return this.raw(actor.op(type, body, this.clock, opts.seq), opts.bootstrap)
  }

  /** Apply raw envelope bytes as they came. */
  async raw(value: Buffer, bootstrap = false): Promise<Sent> {
    const r = await apply(this.view, { value, bootstrap })
    await checkInvariants(this.view)
    this.checks++
    return { ...r, id: r.outcome.id }
  }

  async fund(to: Actor, amount: number): Promise<void> {
    const r = await this.send(this.faucet, 'deposit', { to: to.publicKey, amount })
    if (!r.outcome.accepted) throw new Error(`deposit refused: ${r.outcome.message ?? ''}`)
  }

  /** Advance the clock without an op (the next op carries the time). */
  advance(ms: number): void {
    this.clock += ms
  }

  balance(a: Actor): Promise<number> {
    return Q.balance(this.view, a.key)
  }
}

/**
 * Money is conserved (Σ balances + Σ escrow = minted) and no offer is
 * oversold (what its live trades hold plus what is available is its total).
 * Throws, so any test sequence that breaks either fails at the op that did.
 */
export async function checkInvariants(view: View): Promise<void> {
  const s = await Q.stats(view)
  // read once for every check below: they run after each op, and a long sequence holds thousands of trades
  const trades = await Q.listTrades(view)
  const offers = await Q.listOffers(view, { includeWithdrawn: true })
  const scanned = await scanStats(view, trades, offers)
  if (JSON.stringify(s) !== JSON.stringify(scanned))
    throw new Error(
      `running totals ${JSON.stringify(s)} are not what the records add up to: ${JSON.stringify(scanned)}`
    )
  if (s.balances + s.escrow !== s.minted)
    throw new Error(
      `money not conserved: balances ${s.balances} + escrow ${s.escrow} != minted ${s.minted}`
    )
  await checkHistory(view, trades)
  const held = new Map<string, Resources>()
  for (const t of trades) {
    if (t.state !== 'matched' && t.state !== 'settled') continue
    const h = held.get(t.node) ?? { ...ZERO }
    for (const k of RESOURCE_KINDS) h[k] += t.resources[k]
    held.set(t.node, h)
  }
  for (const o of offers) {
    const h = held.get(o.node) ?? ZERO
    for (const k of RESOURCE_KINDS) {
      if (o.available[k] < 0 || o.available[k] + h[k] !== o.resources[k]) {
        throw new Error(
          `offer ${o.node} oversold on ${k}: total ${o.resources[k]}, available ${o.available[k]}, held by leases ${h[k]}`
        )
      }
    }
  }
}

/** The whole-market figures by reading every record: what the engine's running totals must equal. */
async function scanStats(view: View, trades: Trade[], offers: Offer[]): Promise<Q.Stats> {
  const s: Q.Stats = {
    time: await Q.engineTime(view),
    minted: (await Q.stats(view)).minted,
    balances: 0,
    escrow: 0,
    offers: 0,
    openBids: 0,
    trades: {},
    volume: { trades: 0, value: 0, paid: 0, refunded: 0 },
    accepted: 0,
    rejected: 0,
    capacity: { total: { ...ZERO }, free: { ...ZERO } }
  }
  for (const b of await Q.listBalances(view)) s.balances += b.balance
  for (const o of offers) {
    if (o.withdrawn) continue
    s.offers++
    for (const k of RESOURCE_KINDS) {
      s.capacity.total[k] = capped(s.capacity.total[k] + o.resources[k])
      s.capacity.free[k] = capped(s.capacity.free[k] + o.available[k])
    }
  }
  for await (const _ of view.range({ gte: 'ix/bid-book/', lt: 'ix/bid-book/\xff' })) s.openBids++
  for (const state of TRADE_STATES) {
    const n = trades.filter((t) => t.state === state).length
    if (n > 0) s.trades[state] = n
  }
  for (const t of trades) {
    s.escrow += t.escrow
    s.volume.paid += t.paid
    s.volume.refunded += t.refunded
    if (t.start === null) continue
    s.volume.trades++
    s.volume.value += costFor(t.price, t.duration)
  }
  const live = (await Q.listTrades(view, { live: true })).map((t) => t.id)
  const expected = trades.filter((t) => t.state === 'matched' || t.state === 'settled')
  if (JSON.stringify(live) !== JSON.stringify(expected.map((t) => t.id)))
    throw new Error(`the live trade index holds ${live.length} trades, ${expected.length} are live`)
  for await (const _ of view.range({ gte: 'op/', lt: 'op/\xff' })) s.accepted++
  for await (const _ of view.range({ gte: 'rejected/', lt: 'rejected/\xff' })) s.rejected++
  return s
}

/** The flows the engine keeps per minute and hour (engine/history.ts) are what the trades add up to. */
async function checkHistory(view: View, trades: Trade[]): Promise<void> {
  for (const res of ['minute', 'hour'] as const) {
    const want = new Map<
      number,
      { matched: number; settled: number; value: number; kinds: number[] }
    >()
    const at = (t: number) => {
      const b = bucketOf(res, t)
      const f = want.get(b) ?? {
        matched: 0,
        settled: 0,
        value: 0,
        kinds: RESOURCE_KINDS.map(() => 0)
      }
      want.set(b, f)
      return f
    }
    for (const t of trades) {
      const m = at(t.matchedAt)
      m.matched++
      RESOURCE_KINDS.forEach((k, i) => {
        if (t.resources[k] > 0) m.kinds[i]++
      })
      if (t.start === null) continue
      const s = at(t.start)
      s.settled++
      s.value += costFor(t.price, t.duration)
    }
    const got = new Map<
      number,
      { matched: number; settled: number; value: number; kinds: number[] }
    >()
    for (const b of await tradeFlows(view, res, 0, Number.MAX_SAFE_INTEGER))
      got.set(b.start, {
        matched: b.matched,
        settled: b.settled,
        value: b.value,
        kinds: b.prices.map((p) => p.count)
      })
    const text = (m: Map<number, unknown>) =>
      JSON.stringify([...m.entries()].sort((a, b) => a[0] - b[0]))
    if (text(got) !== text(want))
      throw new Error(
        `the ${res} trade history ${text(got)} is not what the trades add up to: ${text(want)}`
      )
  }
}

/** The view's bytes without the op log and seq records: what a rejected op must leave untouched. */
export function stateBytes(view: MemoryView): Buffer {
  const copy = view.clone()
  // The record of decisions (outcomes, seqs, the running totals) is not market state.
  for (const key of [...view.keys()])
    if (/^(rejected|op|seq)\//.test(key) || key === 'meta/counts') copy.delSync(key)
  return copy.dump()
}

/** A small seeded PRNG (mulberry32), for property tests that must be reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
