import test from 'brittle'
import { testnet } from './helpers/net'
import { peer, market, offerOp, offered } from './helpers/ledger'

test('a peer that only knows the market key submits ops without permission (its own optimistic blocks) and the creator applies them', async (t) => {
  const net = await testnet(t)
  const creator = await market(t, net)
  t.ok(creator.genesis?.accepted, 'genesis accepted')
  const joiner = await peer(t, net, { market: creator.key, relay: false })
  t.absent(joiner.full.base.writable, 'the joiner is not a writer of the Autobase')

  const [id] = await joiner.client.submit([offerOp()])
  const outcome = await joiner.client.outcome(id, { final: true })
  t.ok(outcome.accepted, 'the offer is accepted and final')
  t.is(joiner.ledger.counters.optimistic, 1, "it went out in the joiner's own block")
  t.is(creator.relays?.counters.served, 0, "not through the creator's relay")

  const node = joiner.client.identity
  await offered(creator, node)
  const offer = await creator.client.offer(node)
  t.is(offer?.node, node, "the creator sees the joiner's offer")
  t.is(offer?.id, id)
})

test('closing a client while it waits for an outcome rejects the wait with CLOSED and crashes nothing', async (t) => {
  const net = await testnet(t)
  const creator = await market(t, net)
  const never = 'y'.repeat(52) // an op id that no envelope has
  const settled = (p: Promise<unknown>): Promise<unknown> =>
    p.then(
      () => 'resolved',
      (err: { code?: string }) => err.code
    )
  const waits = [
    settled(creator.client.outcome(never, { final: true })),
    settled(creator.client.outcome(never))
  ]
  await new Promise((resolve) => setImmediate(resolve)) // let the first look at the view begin
  await creator.client.close()
  t.alike(await Promise.all(waits), ['CLOSED', 'CLOSED'])
})
