/**
 * An indexer whose swarm gave another indexer up during a cut reaches it again once the cut ends, though a third
 * indexer links them (the soak, seed 27: idx1 reached idx2 only, which held idx0's blocks sparsely, and idx1 never
 * signed again).
 */
import test from 'brittle'
import b4a from 'b4a'
import type Hyperswarm from 'hyperswarm'
import { testnet, quitter } from './helpers/net'
import { peer, market, addIndexer } from './helpers/ledger'
import { within } from '../lib/timeout'
import type { MarketPeer } from '../market/peer'

const swarmOf = (p: MarketPeer): Hyperswarm => {
  if (p.swarm === null) throw new Error('no swarm')
  return p.swarm
}

/** Resolve once `s` has no connection with `key`, holds no record of it and dials it no more. */
function gaveUp(s: Hyperswarm, key: Buffer): Promise<void> {
  const hex = b4a.toString(key, 'hex')
  return new Promise((resolve) => {
    const check = (): void => {
      const linked = [...s.connections].some((c) => b4a.equals(c.remotePublicKey, key))
      if (!linked && !s.peers.has(hex)) {
        s.off('update', check)
        resolve()
      }
    }
    s.on('update', check)
    check()
  })
}

/** Whether `fn` holds within `ms`, checked every 100 ms. Bounded, not timed. */
async function until(fn: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (!fn()) {
    if (Date.now() > end) return false
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return true
}

test(
  'two indexers cut apart until their swarms gave each other up reach each other again when the cut ends, though a third links them',
  { timeout: 240_000 },
  async (t) => {
    const net = await testnet(t)
    const cut = new Set<string>()
    const a = await market(t, net, { swarm: quitter(t, net, (key) => cut.has(key)) })
    const b = await peer(t, net, { market: a.key, swarm: quitter(t, net, (key) => cut.has(key)) })
    const c = await peer(t, net, { market: a.key, swarm: quitter(t, net, () => false) })
    await addIndexer([a], b)
    await addIndexer([a, b], c)
    const [sa, sb] = [swarmOf(a), swarmOf(b)]
    const [ka, kb] = [sa.keyPair.publicKey, sb.keyPair.publicKey]
    const linked = (): boolean => a.relays?.writers() === 2 && b.relays?.writers() === 2
    // b and c were voted indexers after they connected: each says so on its open channels
    t.ok(await until(linked, 60_000), 'each indexer reaches the two others')

    // a drops b and b drops a: their streams fail, dials and handshakes alike, as the soak's cut does
    cut.add(b4a.toString(ka, 'hex')).add(b4a.toString(kb, 'hex'))
    const apart = Promise.all([gaveUp(sa, kb), gaveUp(sb, ka)])
    for (const conn of [...sa.connections, ...sb.connections])
      if (b4a.equals(conn.remotePublicKey, ka) || b4a.equals(conn.remotePublicKey, kb))
        conn.destroy()
    await within(apart, 60_000, 'the swarms did not give each other up')
    t.is(a.relays?.writers(), 1, 'a reaches c only')
    t.is(b.relays?.writers(), 1, 'b reaches c only')

    cut.clear()
    // Their swarms would look the market up again only after 10 min.
    t.ok(await until(linked, 60_000), 'a and b reach each other again')
    t.ok(
      [...sb.connections].some((conn) => b4a.equals(conn.remotePublicKey, ka)),
      "b holds a connection to a's swarm"
    )
  }
)
