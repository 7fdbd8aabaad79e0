/**
 * A follower that starts while it reaches no one, or while its peers are too slow to answer its view check in
 * time, follows the indexers' signed view as soon as they answer (the soak's "not ready after 240 s").
 */
import test from 'brittle'
import type { Assert } from 'brittle'
import { testnet, swarm as netSwarm, quitter } from './helpers/net'
import { peer, market, history, dump } from './helpers/ledger'
import { HyperbeeView } from '../market/hyperbee-view'
import type { MarketPeer } from '../market/peer'
import { within, waitForUpdate } from '../lib/timeout'
import { Follower } from '../market/follower'
import { openStore, FOLLOWER_LIMITS } from '../lib/store'
import { marketTopic } from '../lib/topics'
import { Indexer } from './bench/indexers'
import { tieToRunner } from './helpers/child'
import * as Q from '../market/queries'

/** What a follower reads is what its indexer signed at that length. */
async function followsSigned(t: Assert, follower: MarketPeer, indexer: MarketPeer): Promise<void> {
  const view = indexer.ledger.view.core
  t.alike(follower.ledger.view.core.key, view.key, "it follows the indexer's view")
  const length = follower.ledger.finalVersion
  t.ok(length > 0 && length <= view.signedLength, `within what the indexer signed (${length})`)
  t.alike(
    await dump(HyperbeeView.reading(follower.ledger.finalCheckout()), 'offer/'),
    await dump(HyperbeeView.reading(indexer.ledger.view.checkout(length)), 'offer/'),
    'the same offers as the indexer at that length'
  )
}

test('a follower cut off from every peer at its start, long enough that its swarm gave them up, joins once the cut ends', async (t) => {
  const net = await testnet(t)
  const indexer = await market(t, net)
  await history(indexer, 20)
  const cut = { on: true }
  let tries = 0
  const swarm = quitter(t, net, () => {
    tries++
    return cut.on
  })
  const gaveUp = new Promise<void>((resolve) => {
    const check = (): void => {
      if (tries > 0 && swarm.peers.size === 0 && swarm.connecting === 0) {
        swarm.off('update', check)
        resolve()
      }
    }
    swarm.on('update', check)
  })
  let joined = false
  const joining = peer(t, net, {
    market: indexer.key,
    follow: true,
    identity: null,
    swarm,
    joinTimeout: Infinity
  })
  void joining.then(
    () => (joined = true),
    () => {}
  )
  await gaveUp
  t.absent(
    joined,
    `cut off, it has not joined (${tries} tries failed, and its swarm gave the indexer up)`
  )
  cut.on = false
  // Bounded, not timed: the swarm would look the market up again only after 10 min.
  const follower = await within(joining, 60_000, 'the follower did not join once the cut ended')
  await followsSigned(t, follower, indexer)
})

test('a view check that outlives its timeout while its indexer is frozen goes on, and the view is followed when it ends', async (t) => {
  const net = await testnet(t)
  // The indexer in a process of its own, to freeze it as a starved or stopped machine is (SIGSTOP).
  const indexer = Indexer.start(net, null)
  tieToRunner(indexer.child)
  t.teardown(async () => {
    indexer.child.kill('SIGCONT')
    await indexer.close()
  })
  const { market: key, view: viewHex } = await indexer.ready
  const view = Buffer.from(viewHex, 'hex')
  const store = openStore(await t.tmp(), FOLLOWER_LIMITS)
  const follower = new Follower(store, Buffer.from(key, 'hex'), { checkTimeout: 1000 })
  t.teardown(async () => {
    await follower.close()
    await store.close()
  })
  await follower.ready()
  // No retry can rescue the check: no peer shows the view again.
  follower.shows = () => false
  const s = netSwarm(t, net)
  s.on('connection', (conn) => follower.replicate(conn))
  s.join(marketTopic(Buffer.from(key, 'hex')), { client: true, server: false })
  // The follower knows the view's length and signers; its blocks it has yet to fetch.
  const core = store.get({ key: view })
  t.teardown(() => core.close())
  await core.ready()
  while (core.length === 0 || core.manifest === null) await waitForUpdate(core, 5000)
  indexer.child.kill('SIGSTOP')
  t.is(await follower.offer(view), false, 'its indexer frozen, the check times out')
  t.is(follower.viewKey, null, 'nothing followed yet')
  indexer.child.kill('SIGCONT')
  // Bounded, not timed: without the late check's follow, nothing would ever follow this view.
  await follower.viewKnown(60_000)
  t.alike(
    follower.viewKey,
    view,
    'the check went on once the indexer woke, and the view is followed'
  )
  t.ok(
    (await Q.getGenesis(HyperbeeView.reading(follower.finalCheckout()))) !== null,
    'the signed view it follows reads as a market'
  )
})
