import test from 'brittle'
import { testnet, swarm } from './helpers/net'
import { peer, market, history, offerOp, dump, addIndexer, until } from './helpers/ledger'
import { HyperbeeView } from '../market/hyperbee-view'
import { Follower } from '../market/follower'
import { openStore, FOLLOWER_LIMITS } from '../lib/store'
import { marketTopic } from '../lib/topics'
import * as Q from '../market/queries'
import b4a from 'b4a'
import { envelopeId } from '../lib/envelope'
import { verifyMarket } from '../market/replay'
import { apply as engineApply } from '../market/engine'
import type { Apply } from '../market/types'

test('a follower joins a grown market without applying it, and reads what the indexer reads', async (t) => {
  const net = await testnet(t)
  const indexer = await market(t, net)
  await history(indexer, 2000)
  const applied = indexer.ledger.counters.envelopes

  const follower = await peer(t, net, { market: indexer.key, follow: true, identity: null })
  t.ok(follower.following)
  await follower.ledger.catchUp()
  t.is(follower.ledger.counters.envelopes, 0, 'the follower ran the engine on no op')
  t.ok(applied >= 2000, `the indexer applied the history (${applied} ops)`)

  const mine = HyperbeeView.reading(follower.ledger.finalCheckout())
  const theirs = HyperbeeView.reading(indexer.ledger.view.checkout(follower.ledger.finalVersion))
  t.is((await Q.listOffers(mine)).length, 1000, 'every offer')
  t.alike(
    await dump(mine, 'offer/'),
    await dump(theirs, 'offer/'),
    'the same offers as the indexer at that length'
  )
  t.alike(
    await dump(mine, 'ix/bid-book/'),
    await dump(theirs, 'ix/bid-book/'),
    'the same order book'
  )
})

test('a follower submits through a relay and sees its op final', async (t) => {
  const net = await testnet(t)
  const indexer = await market(t, net)
  const node = await peer(t, net, { market: indexer.key, follow: true })
  const [outcome] = await node.client.submitAndWait([offerOp()])
  t.ok(outcome.accepted, 'the offer is accepted and final')
  t.is(node.ledger.counters.envelopes, 0, 'the follower applied nothing')
  t.ok((await node.client.offer(node.client.identity)) !== null, 'the follower reads its own offer')
  t.is(indexer.relays?.counters.served, 1, 'the indexer relayed it')
})

test('a follower restarts on the view it followed and continues its seqs', async (t) => {
  const net = await testnet(t)
  const indexer = await market(t, net)
  const data = await t.tmp()
  const { generateKeyPair } = await import('../lib/identity')
  const identity = generateKeyPair()
  const first = await peer(t, net, { market: indexer.key, follow: true, data, identity })
  t.ok((await first.client.submitAndWait([offerOp()]))[0].accepted)
  await first.close()
  const again = await peer(t, net, { market: indexer.key, follow: true, data, identity })
  t.is(again.client.lastSeq, 1, 'the seq is recovered from the signed view')
  const [outcome] = await again.client.submitAndWait([{ type: 'withdraw', body: {} }])
  t.ok(
    outcome.accepted,
    `a new op after the restart is no replay (${outcome.reason ?? 'accepted'})`
  )
})

test("a follower refuses a view its market's indexers do not sign", async (t) => {
  const net = await testnet(t)
  const a = await market(t, net)
  const b = await market(t, net)
  const follower = await peer(t, net, { market: a.key, follow: true, identity: null })
  const ledger = follower.ledger as Follower
  const mine = ledger.viewKey
  // Reach market b's peers too, so its view can be fetched and checked.
  const s = swarm(t, net)
  s.on('connection', (conn) => follower.ledger.replicate(conn))
  await s.join(marketTopic(b.key), { client: true, server: false }).flushed()
  await s.flush()
  t.is(await ledger.offer(b.ledger.view.core.key), false, "market b's view is refused")
  t.is(await ledger.offer(a.ledger.view.core.key), true, "market a's view checks out")
  t.alike(ledger.viewKey, mine, "it still reads market a's view")
})

test('a view whose first check timed out is checked again, and followed once its blocks are reachable', async (t) => {
  const net = await testnet(t)
  const indexer = await market(t, net)
  await history(indexer, 20)
  const view = indexer.ledger.view.core.key
  const store = openStore(await t.tmp(), FOLLOWER_LIMITS)
  // Each try may take 2 s: enough once the blocks are reachable, even on a loaded machine.
  const follower = new Follower(store, indexer.key, { checkTimeout: 2000 })
  t.teardown(async () => {
    await follower.close()
    await store.close()
  })
  await follower.ready()
  // Shown before any peer can serve its blocks (as on a loaded machine): the first check times out.
  t.is(await follower.offer(view), false, 'no peer serves the view yet: its check times out')
  t.is(follower.viewKey, null)
  // Now the blocks are reachable, but nothing shows the view again: no relay channel, only replication.
  const s = swarm(t, net)
  s.on('connection', (conn) => follower.replicate(conn))
  s.join(marketTopic(indexer.key), { client: true, server: false })
  // Tries 1, 2, 4, 8, 16, 30 s apart: this bound leaves room for several, within the test's timeout.
  await follower.viewKnown(90_000)
  t.alike(follower.viewKey, view, 'the follower checked the view again and follows it')
})

test('market verify replays from genesis and agrees with the signed view; a replay given one different op names where it diverges', async (t) => {
  const net = await testnet(t)
  const indexer = await market(t, net)
  await history(indexer, 300)
  await indexer.client.submitAndWait([offerOp()])

  const report = await verifyMarket({ market: indexer.key, dht: net.createNode() })
  t.ok(report.ok, 'the signed view is what the engine computes')
  t.ok(report.ops > 300, `${report.ops} ops replayed`)
  t.is(report.divergence, null)

  // One op, by identity, every time it is applied: a reorg may apply it again, and must not undo the tampering.
  const ids: string[] = []
  const tampered: Apply = (view, input) => {
    const id = envelopeId(input.value)
    if (!ids.includes(id)) ids.push(id)
    if (ids.indexOf(id) !== 49) return engineApply(view, input)
    const value = b4a.from(input.value)
    value[value.byteLength - 1] ^= 1 // one different op: its signature no longer holds
    return engineApply(view, { ...input, value })
  }
  const bad = await verifyMarket({ market: indexer.key, dht: net.createNode(), apply: tampered })
  t.absent(bad.ok, 'the tampered replay does not agree')
  t.ok(
    bad.divergence !== null && bad.divergence.key.length > 0,
    `diverges at ${bad.divergence?.key ?? '?'}`
  )
})

test('a follower moves to the new view when indexers are added, and its ops are final with three indexers', async (t) => {
  const net = await testnet(t)
  const a = await market(t, net)
  const follower = await peer(t, net, { market: a.key, follow: true })
  const ledger = follower.ledger as Follower
  const before = ledger.viewKey
  const b = await peer(t, net, { market: a.key })
  const c = await peer(t, net, { market: a.key })
  await addIndexer([a], b)
  await addIndexer([a, b], c)
  // Each indexer added makes a new view: wait for the one the three sign, not the first change.
  await until(follower, async () => ledger.viewKey?.equals(a.ledger.view.core.key) === true)
  t.ok(
    before !== null && ledger.viewKey !== null && !ledger.viewKey.equals(before),
    'it reads the view the three indexers sign, not the one it joined'
  )
  const [outcome] = await follower.client.submitAndWait([offerOp()], { timeout: 60_000 })
  t.ok(outcome.accepted, 'its op is accepted and final')
  t.is(follower.ledger.counters.envelopes, 0, 'and it applied nothing')
})
