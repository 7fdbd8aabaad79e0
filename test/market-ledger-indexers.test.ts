import test from 'brittle'
import { testnet } from './helpers/net'
import {
  peer,
  market,
  addIndexer,
  until,
  withFinal,
  dump,
  offerOp,
  bidOp,
  history
} from './helpers/ledger'
import { generateKeyPair } from '../lib/identity'
import * as Q from '../market/queries'
import { HyperbeeView } from '../market/hyperbee-view'
import { fits, subtract, add, ZERO, Resources } from '../lib/resources'
import type { MarketPeer } from '../market/peer'
import type { Assert } from 'brittle'
import type { Testnet } from '../lib/testnet'

async function threeIndexers(t: Assert, net: Testnet): Promise<MarketPeer[]> {
  const a = await market(t, net)
  const b = await peer(t, net, { market: a.key })
  const c = await peer(t, net, { market: a.key })
  await addIndexer([a], b)
  t.comment('b indexes')
  await addIndexer([a, b], c)
  t.comment('c indexes')
  return [a, b, c]
}

test('no double sale: bots on separate peers bid concurrently for more than exists, and every peer agrees', async (t) => {
  const net = await testnet(t)
  const indexers = await threeIndexers(t, net)
  const [a] = indexers
  t.alike(
    (
      await Q.listIndexers(
        (await import('../market/hyperbee-view')).HyperbeeView.reading(a.ledger.view)
      )
    ).length,
    3,
    'three indexers'
  )

  const nodes = await Promise.all([0, 1].map(() => peer(t, net, { market: a.key })))
  const offerIds = await Promise.all(nodes.map((n) => n.client.submit([offerOp({ cpu: 4000 })])))
  for (const [i, n] of nodes.entries())
    t.ok(
      (await n.client.outcome(offerIds[i][0], { final: true, timeout: 60_000 })).accepted,
      'offer final'
    )
  t.comment('offers final')

  // 2 nodes × 4 cores; 4 bots × 5 bids of 1 core = 20 cores asked for 8.
  const bots = await Promise.all([0, 1, 2, 3].map(() => peer(t, net, { market: a.key })))
  const ids = await Promise.all(
    bots.map((b) => b.client.submit(Array.from({ length: 5 }, () => bidOp({ cpu: 1000 }))))
  )
  const outcomes = await Promise.all(
    bots.flatMap((b, i) =>
      ids[i].map((id) => b.client.outcome(id, { final: true, timeout: 60_000 }))
    )
  )
  const traded = outcomes.reduce((n, o) => n + o.trades.length, 0)
  t.is(traded, 8, 'exactly the capacity that exists was sold')

  const everyone = [...indexers, ...nodes, ...bots]
  const target = Math.max(...everyone.map((p) => p.ledger.finalVersion))
  for (const p of everyone) await until(p, async () => p.ledger.finalVersion >= target)

  const dumps: string[] = []
  for (const p of everyone) {
    await withFinal(p, async (view) => {
      for (const offer of await Q.listOffers(view, { includeWithdrawn: true })) {
        let sold: Resources = { ...ZERO }
        for (const tr of await Q.listTrades(view, { node: offer.node }))
          sold = add(sold, tr.resources)
        t.ok(
          fits(sold, offer.resources),
          `${p.client.identity.slice(0, 6)}: offer ${offer.node.slice(0, 6)} sold no more than it had`
        )
        t.alike(offer.available, subtract(offer.resources, sold), 'available is what is left')
      }
      dumps.push((await dump(view)).join('\n'))
    })
  }
  t.ok(
    dumps.every((d) => d === dumps[0]),
    `all ${everyone.length} peers have the same final view`
  )
})

test('liveness: with one of three indexers stopped, ops still become final', async (t) => {
  const net = await testnet(t)
  const [a, , c] = await threeIndexers(t, net)
  await c.close()
  const bot = await peer(t, net, { market: a.key })
  const [id] = await bot.client.submit([offerOp()])
  const o = await bot.client.outcome(id, { final: true, timeout: 60_000 })
  t.ok(o.accepted, 'final with two of three indexers')
})

test('liveness: an indexer cut off mid-stream (connections dropped, no close) does not stop the ops that follow', async (t) => {
  const net = await testnet(t)
  const [a, , c] = await threeIndexers(t, net)
  const bot = await peer(t, net, { market: a.key })
  await bot.flushed()
  await bot.relays?.opened()
  await bot.client.submitAndWait([offerOp({ cpu: 64_000 })])
  const bid = async (): Promise<void> => {
    const [id] = await bot.client.submit([bidOp({ cpu: 100 })])
    t.ok(
      (await bot.client.outcome(id, { final: true, timeout: 60_000 })).accepted,
      'bid final and accepted'
    )
  }
  for (let i = 0; i < 5; i++) await bid()
  // As a crash looks to the others: whatever c appended and announced last may never be fetched.
  const swarm = c.swarm
  if (swarm === null) return t.fail('no swarm')
  for (const conn of swarm.connections) conn.destroy()
  await swarm.destroy()
  t.comment('c cut off')
  for (let i = 0; i < 10; i++) await bid()
})

test('an indexer restarted after 1,000 more ops catches up from where it stopped, not from genesis', async (t) => {
  const net = await testnet(t)
  const a = await market(t, net)
  const b = await peer(t, net, { market: a.key })
  const data = await t.tmp()
  const identity = generateKeyPair()
  const c = await peer(t, net, { market: a.key, data, identity })
  await addIndexer([a], b)
  await addIndexer([a, b], c)
  const accepted = async (p: MarketPeer): Promise<number> => (await Q.stats(view(p))).accepted
  const caughtUp = (p: MarketPeer): Promise<void> =>
    until(p, async () => (await accepted(p)) === (await accepted(a)))
  await history(a, 1000)
  await caughtUp(c)
  t.comment(`c applied the first 1,000 (${c.ledger.counters.envelopes} engine runs)`)
  await c.close()

  await history(a, 1000)
  const back = await peer(t, net, { market: a.key, data, identity })
  await caughtUp(back)
  const ran = back.ledger.counters.envelopes
  // From where it stopped: about the 1,000 it missed, at most (Autobase usually fast-forwards it past them: 0).
  t.ok(ran < 1500, `restarted, it ran the engine on ${ran} ops: not the 2,000 of the history`)
  t.is(await accepted(back), await accepted(a), 'and holds what the others hold')
})

function view(p: MarketPeer): ReturnType<typeof HyperbeeView.reading> {
  return HyperbeeView.reading(p.ledger.view)
}
