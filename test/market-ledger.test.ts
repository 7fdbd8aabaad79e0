import test from 'brittle'
import { testnet } from './helpers/net'
import { peer, market, until, offerOp } from './helpers/ledger'

test('a peer that only knows the market key submits ops without permission and the creator applies them', async t => {
  const net = await testnet(t)
  const creator = await market(t, net)
  t.ok(creator.genesis?.accepted, 'genesis accepted')
  const joiner = await peer(t, net, { market: creator.key })
  t.absent(joiner.ledger.base.writable, 'the joiner is not a writer of the Autobase')

  const [id] = await joiner.client.submit([offerOp()])
  const outcome = await joiner.client.outcome(id, { final: true })
  t.ok(outcome.accepted, 'the offer is accepted and final')

  const node = joiner.client.identity
  await until(creator, async () => (await creator.client.offer(node)) !== null)
  const offer = await creator.client.offer(node)
  t.is(offer?.node, node, 'the creator sees the joiner\'s offer')
  t.is(offer?.id, id)
})
