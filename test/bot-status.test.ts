import test from 'brittle'
import { testnet } from './helpers/net'
import { world, bot } from './helpers/deploy'

test('a bot on a loopback bootstrap gets its swarm from lib/swarm: reachable, never waiting on hole-punching', async t => {
  const net = await testnet(t)
  const w = await world(t, net)
  const b = await bot(t, w, { dht: undefined, bootstrap: net.bootstrap, fund: 0 })
  t.is(b.swarm.dht.firewalled, false, 'the DHT node is declared reachable')
  t.is(b.swarm.dht.address().host, '127.0.0.1', 'and bound to loopback')
  t.ok(b.peer.peers > 0, 'it reached the market')
})
