/**
 * A follower (a bot, a node) trades through any indexer that reaches a quorum, whichever links the soak cuts: the
 * soak's botB, cut from idx0 while idx1 (its relay) was cut from the two other indexers, had its heals' ops taken
 * and never final for 60 s.
 */
import test from 'brittle'
import type { Assert } from 'brittle'
import Hyperswarm from 'hyperswarm'
import type { SecretStream } from 'hyperdht'
import type { Testnet } from '../lib/testnet'
import { cuttable } from '../lib/faults'
import { within } from '../lib/timeout'
import { testnet } from './helpers/net'
import { peer, market, addIndexer, offerOp, bidOp } from './helpers/ledger'
import type { MarketPeer } from '../market/peer'

/** A resend this soon keeps the test short (a working relay still gets an op final by then on a loaded machine). */
const RESEND = 3000
/** Bounded, not timed: without the fix the ops stay undecided for as long as the cut lasts. */
const BOUND = 90_000

interface CutPeer {
  swarm: Hyperswarm
  key: string
  /** Fail its streams with these swarm keys (existing ones too), both ways, until `heal`. */
  cutFrom(...keys: string[]): void
  heal(...keys: string[]): void
  /** Dials and handshakes refused so far, with `key`. */
  refused(key: string): number
}

/** A swarm on a node the test can cut from given peers (lib/faults.ts, as the soak does); it gives a peer up fast. */
function cutPeer(t: Assert, net: Testnet): CutPeer {
  const cut = new Set<string>()
  const streams = new Map<SecretStream, string>()
  const refusals = new Map<string, number>()
  const dht = cuttable(
    net.createNode(),
    (key) => {
      if (!cut.has(key)) return false
      refusals.set(key, (refusals.get(key) ?? 0) + 1)
      return true
    },
    {
      opened: (s, key) => {
        streams.set(s, key)
        s.once('close', () => streams.delete(s))
      }
    }
  )
  // Hyperswarm's own back-off (1, 5, 15 s, then none until its next lookup, 10 min), shortened.
  const swarm = new Hyperswarm({ dht, backoffs: [100, 200, 300, 600_000], jitter: 0 })
  t.teardown(() => swarm.destroy())
  return {
    swarm,
    key: swarm.keyPair.publicKey.toString('hex'),
    cutFrom(...keys) {
      for (const k of keys) cut.add(k)
      for (const [s, k] of streams) if (cut.has(k)) s.destroy()
    },
    heal(...keys) {
      for (const k of keys) cut.delete(k)
    },
    refused: (key) => refusals.get(key) ?? 0
  }
}

interface Member {
  p: MarketPeer
  net: CutPeer
}

/** Three indexers, each on a swarm the test can cut. */
async function threeIndexers(t: Assert, net: Testnet): Promise<Member[]> {
  const nets = [cutPeer(t, net), cutPeer(t, net), cutPeer(t, net)]
  const a = await market(t, net, { swarm: nets[0].swarm })
  const b = await peer(t, net, { market: a.key, swarm: nets[1].swarm })
  const c = await peer(t, net, { market: a.key, swarm: nets[2].swarm })
  await addIndexer([a], b)
  await addIndexer([a, b], c)
  // b and c met before they were indexers: their relay channel says neither relays (its hello is not sent again).
  // Connected again, each reaches the two others as indexers, as the soak's do (and looks nothing up by itself).
  for (const n of nets.slice(1)) for (const conn of n.swarm.connections) conn.destroy()
  const indexers = [a, b, c].map((p, i) => ({ p, net: nets[i] }))
  await until('the indexers reach each other', () =>
    indexers.every((m) => m.p.relays?.writers() === 2)
  )
  return indexers
}

/** A follower of the three's market; cut from `from` (swarm keys) as it starts. */
async function follower(
  t: Assert,
  net: Testnet,
  indexers: Member[],
  from: string[] = []
): Promise<Member> {
  const n = cutPeer(t, net)
  n.cutFrom(...from)
  const p = await peer(t, net, {
    market: indexers[0].p.key,
    follow: true,
    swarm: n.swarm,
    resendAfter: RESEND,
    joinTimeout: BOUND
  })
  return { p, net: n }
}

function served(m: Member): number {
  return m.p.relays?.counters.served ?? 0
}

/** Submit one op and wait for it final; the indexer whose relay took it. */
async function carried(t: Assert, f: MarketPeer, indexers: Member[]): Promise<Member> {
  const before = indexers.map(served)
  const [id] = await f.client.submit([offerOp()])
  const o = await within(f.client.outcome(id, { final: true, timeout: BOUND }), BOUND, 'not final')
  t.ok(o.accepted, 'its first op is final')
  const by = indexers.filter((m, i) => served(m) > before[i])
  t.is(by.length, 1, 'one relay took it')
  return by[0]
}

async function until(what: string, fn: () => boolean): Promise<void> {
  const deadline = Date.now() + BOUND
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${BOUND} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** An op submitted now is final through another relay than `stuck`, which took it too. */
async function finalElsewhere(
  t: Assert,
  f: MarketPeer,
  stuck: Member,
  indexers: Member[]
): Promise<void> {
  const before = indexers.map(served)
  const [id] = await f.client.submit([bidOp({ cpu: 1000 })])
  const o = await within(
    f.client.outcome(id, { final: true, timeout: BOUND }),
    BOUND,
    'the op its relay took, cut off from the other indexers, is not final'
  )
  t.ok(o.accepted, `final and accepted (${o.reason ?? 'ok'})`)
  t.ok(served(stuck) > before[indexers.indexOf(stuck)], 'the relay cut off from the quorum took it')
  t.ok(
    indexers.some((m, i) => m !== stuck && served(m) > before[i]),
    'and another relay took it again'
  )
}

test('ops a relay took but cannot get final (it is cut off from the other indexers) go again through another, and are final', async (t) => {
  const net = await testnet(t)
  const indexers = await threeIndexers(t, net)
  const f = await follower(t, net, indexers)
  await until('relay channels with the three indexers', () => f.p.relays?.writers() === 3)
  const relay = await carried(t, f.p, indexers)
  const others = indexers.filter((m) => m !== relay)
  relay.net.cutFrom(...others.map((m) => m.net.key))
  await finalElsewhere(t, f.p, relay, indexers)
})

test('a follower whose swarm gave an indexer up during a cut, left with a relay cut off from the quorum, reaches that indexer again and its ops are final', async (t) => {
  const net = await testnet(t)
  const indexers = await threeIndexers(t, net)
  // Cut from x as it starts, long enough that its swarm gives x up (the soak's botB and idx0)
  const x = indexers[2]
  const { p, net: fNet } = await follower(t, net, indexers, [x.net.key])
  await until('the follower gave the cut indexer up', () => {
    const info = fNet.swarm.peers.get(x.net.key)
    return fNet.refused(x.net.key) > 0 && (info === undefined || info.attempts > 3)
  })
  fNet.heal(x.net.key)
  await until('relay channels with the two others', () => p.relays?.writers() === 2)
  const relay = await carried(t, p, indexers)
  const y = indexers.find((m) => m !== relay && m !== x) as Member
  t.is(
    p.relays?.writers(),
    2,
    'the cut is over, and still it reaches two indexers: its swarm gave x up'
  )
  // Now its relay is cut from x and y (which make a quorum), and it from y: x is its one way to the market.
  relay.net.cutFrom(x.net.key, y.net.key)
  fNet.cutFrom(y.net.key)
  await finalElsewhere(t, p, relay, indexers)
  t.ok(served(x) > 0, 'x, which its swarm had given up, took it')
})
