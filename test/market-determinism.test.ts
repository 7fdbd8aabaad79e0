/**
 * docs/ARCHITECTURE.md "Engine": the same linearized order gives the same view bytes on
 * every peer; and any order is safe (money conserved, nothing oversold).
 * The op set is random but reproducible (seeded), sealed once: every peer
 * gets exactly the same envelope bytes.
 */
import test from 'brittle'
import b4a from 'b4a'
import { envelopeId } from '../lib/envelope'
import { GiB } from '../lib/resources'
import { apply } from '../market/engine'
import { MemoryView } from '../market/memory-view'
import * as Q from '../market/queries'
import {
  Actor,
  offerBody,
  bidBody,
  resources,
  checkInvariants,
  prng,
  T0,
  HOUR
} from './helpers/market'

interface Op {
  author: string
  value: Buffer
  bootstrap: boolean
  at: number
}

/** ~`n` ops from 4 nodes, 5 bots and a faucet, each author's ops in its own seq order. */
function generate(seed: number, n: number): { genesis: Op; queues: Op[][] } {
  const rand = prng(seed)
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]
  const founder = new Actor(`founder-${seed}`)
  const faucet = new Actor(`faucet-${seed}`)
  const nodes = [0, 1, 2, 3].map((i) => new Actor(`node-${seed}-${i}`))
  const bots = [0, 1, 2, 3, 4].map((i) => new Actor(`bot-${seed}-${i}`))
  const queues = new Map<Actor, Op[]>()
  let clock = T0
  const add = (a: Actor, value: Buffer): string => {
    const q = queues.get(a) ?? []
    q.push({ author: a.key, value, bootstrap: false, at: clock })
    queues.set(a, q)
    return envelopeId(value)
  }
  const at = (): number => (clock += Math.floor(rand() * 3 * 60_000))
  const genesis = {
    author: founder.key,
    value: founder.op(
      'governance',
      { action: 'genesis', faucets: [faucet.publicKey], settlementWindow: 2 * HOUR },
      T0
    ),
    bootstrap: true,
    at: T0
  }
  const trades: Array<{ bot: Actor; id: string }> = []
  const bids: Array<{ bot: Actor; id: string }> = []
  const offered = new Set<Actor>()
  for (const b of bots) add(faucet, faucet.op('deposit', { to: b.publicKey, amount: 20_000 }, at()))
  for (let i = 0; i < n; i++) {
    const r = rand()
    if (r < 0.15) {
      const node = pick(nodes)
      const body = offerBody({
        resources: resources({
          cpu: 1000 * (2 + Math.floor(rand() * 6)),
          memory: (4 + Math.floor(rand() * 28)) * GiB
        }),
        prices: resources({ cpu: 50 + Math.floor(rand() * 100), memory: Math.floor(rand() * 20) }),
        country: pick(['CH', 'DE', 'FR']),
        attributes: pick([[], ['ssd'], ['gpu', 'ssd']]),
        maxLease: pick([4 * HOUR, 100 * HOUR])
      })
      add(node, node.op(offered.has(node) ? 'offer-update' : 'offer', body, at()))
      offered.add(node)
    } else if (r < 0.5) {
      const bot = pick(bots)
      const body = bidBody({
        resources: resources({
          cpu: 500 * (1 + Math.floor(rand() * 4)),
          memory: (1 + Math.floor(rand() * 4)) * GiB
        }),
        replicas: 1 + Math.floor(rand() * 3),
        spread: rand() < 0.3,
        countries: rand() < 0.3 ? [pick(['CH', 'DE', 'FR'])] : [],
        attributes: rand() < 0.2 ? ['ssd'] : [],
        maxPrice: 100 + Math.floor(rand() * 400),
        duration: (1 + Math.floor(rand() * 3)) * HOUR,
        expiry: clock + Math.floor(rand() * 6 * HOUR),
        exclude: rand() < 0.1 ? [pick(nodes).key] : []
      })
      const id = add(bot, bot.op('bid', body, at()))
      bids.push({ bot, id })
      for (let k = 0; k < body.replicas; k++) trades.push({ bot, id: `${id}.${k}` })
    } else if (r < 0.7 && trades.length > 0) {
      const t = pick(trades)
      add(
        t.bot,
        t.bot.op(
          'settle',
          { trade: t.id, contract: b4a.alloc(32, 1), manifest: b4a.alloc(32, 2) },
          at()
        )
      )
    } else if (r < 0.78 && trades.length > 0) {
      const t = pick(trades)
      add(t.bot, t.bot.op(pick(['close', 'fail'] as const), { trade: t.id, reason: '' }, at()))
    } else if (r < 0.86 && trades.length > 0) {
      const t = pick(trades)
      const node = pick(nodes) // may not be the trade's node: not-owner in some orders, fine
      add(node, node.op('claim', { trade: t.id, reason: '' }, at()))
    } else if (r < 0.9 && bids.length > 0) {
      const b = pick(bids)
      add(b.bot, b.bot.op('cancel', { bid: b.id }, at()))
    } else if (r < 0.95) {
      const from = pick(bots)
      add(
        from,
        from.op(
          'transfer',
          { to: pick([...bots, ...nodes]).publicKey, amount: Math.floor(rand() * 3000) + 1 },
          at()
        )
      )
    } else if (r < 0.97) {
      const node = pick(nodes)
      add(node, node.op('withdraw', {}, at()))
    } else {
      add(
        faucet,
        faucet.op(
          'deposit',
          { to: pick(bots).publicKey, amount: 1 + Math.floor(rand() * 1000) },
          at()
        )
      )
    }
  }
  return { genesis, queues: [...queues.values()] }
}

/**
 * One Autobase-like linearization: a random merge that keeps each writer's
 * own order, mostly close to time order (writers see each other's recent ops)
 * but often not.
 */
function interleave(queues: Op[][], rand: () => number): Op[] {
  const heads = queues.map(() => 0)
  const out: Op[] = []
  const total = queues.reduce((s, q) => s + q.length, 0)
  while (out.length < total) {
    const live = queues.map((_, i) => i).filter((i) => heads[i] < queues[i].length)
    let i = live[Math.floor(rand() * live.length)]
    if (rand() < 0.6)
      i = live.reduce(
        (best, j) => (queues[j][heads[j]].at < queues[best][heads[best]].at ? j : best),
        live[0]
      )
    out.push(queues[i][heads[i]++])
  }
  return out
}

/** A peer applying ops in order; optionally rebuilt from its own bytes every `reloadEvery` ops (no hidden state may survive). */
async function peer(
  genesis: Op,
  ops: Op[],
  opts: { check?: boolean; reloadEvery?: number } = {}
): Promise<{ view: MemoryView; outcomes: string[] }> {
  let view = new MemoryView()
  const outcomes: string[] = []
  for (const [i, op] of [genesis, ...ops].entries()) {
    const r = await apply(view, { value: op.value, bootstrap: op.bootstrap })
    outcomes.push(
      `${r.outcome.accepted ? 'ok' : (r.outcome.reason ?? '')}:${r.outcome.trades.join(',')}`
    )
    if (opts.check === true) await checkInvariants(view)
    if (opts.reloadEvery !== undefined && i % opts.reloadEvery === 0)
      view = MemoryView.load(view.dump())
  }
  return { view, outcomes }
}

test(
  'same order, same bytes: peers agree byte for byte, also when rebuilt from re-encoded views',
  { timeout: 120_000 },
  async (t) => {
    const { genesis, queues } = generate(7, 300)
    const rand = prng(1234)
    for (let k = 0; k < 6; k++) {
      const order = interleave(queues, rand)
      const a = await peer(genesis, order)
      const b = await peer(genesis, order)
      const c = await peer(genesis, order, { reloadEvery: 17 })
      t.ok(b4a.equals(a.view.dump(), b.view.dump()), `order ${k}: two peers, identical views`)
      t.ok(
        b4a.equals(a.view.dump(), c.view.dump()),
        `order ${k}: a peer rebuilt from its bytes every 17 ops, identical view`
      )
      t.alike(a.outcomes, c.outcomes, `order ${k}: identical outcomes`)
    }
  }
)

test('the op set is rich enough to mean something', async (t) => {
  const { genesis, queues } = generate(7, 300)
  const { view, outcomes } = await peer(genesis, interleave(queues, prng(1)))
  const s = await Q.stats(view)
  const reasons: Record<string, number> = {}
  for (const o of outcomes) {
    const r = o.split(':')[0]
    reasons[r] = (reasons[r] ?? 0) + 1
  }
  t.comment(`trades by state ${JSON.stringify(s.trades)}, outcomes ${JSON.stringify(reasons)}`)
  t.ok(
    (s.trades.settled ?? 0) +
      (s.trades.ended ?? 0) +
      (s.trades.closed ?? 0) +
      (s.trades.failed ?? 0) >
      5,
    'leases were settled'
  )
  t.ok(s.accepted > 100 && s.rejected > 10, 'both accepted and rejected ops')
  t.ok(
    outcomes.some((o) => o.startsWith('ok:') && o.length > 3),
    'some ops created trades'
  )
})

test(
  'any order is safe: money conserved and nothing oversold after every op',
  { timeout: 120_000 },
  async (t) => {
    for (const seed of [11, 12, 13]) {
      const { genesis, queues } = generate(seed, 150)
      const rand = prng(seed * 97)
      const views: MemoryView[] = []
      for (let k = 0; k < 4; k++) {
        const { view } = await peer(genesis, interleave(queues, rand), { check: true })
        views.push(view)
      }
      // Fully shuffled (writers' own order broken too): seqs get refused as replays, still nothing breaks.
      const all = queues.flat()
      for (let i = all.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1))
        ;[all[i], all[j]] = [all[j], all[i]]
      }
      const shuffled = await peer(genesis, all, { check: true })
      const ends = await Promise.all([...views, shuffled.view].map((v) => Q.stats(v)))
      t.ok(
        ends.every((s) => s.minted > 0 && s.balances + s.escrow === s.minted),
        `seed ${seed}: ${4 + 1} orders, invariants held after every op, money conserved at the end`
      )
      t.ok(
        shuffled.outcomes.some((o) => o.startsWith('replay:')),
        `seed ${seed}: the shuffled order had ops refused as replays, and nothing broke`
      )
    }
  }
)
