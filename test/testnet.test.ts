import test from 'brittle'
import b4a from 'b4a'
import { testnet, swarm } from './helpers/net'
import { marketTopic } from '../lib/topics'

test('two swarms on the local testnet find each other on a market topic', async (t) => {
  const net = await testnet(t)
  t.ok(
    net.bootstrap.every((b) => b.host === '127.0.0.1'),
    'loopback only'
  )
  const a = swarm(t, net)
  const b = swarm(t, net)
  const topic = marketTopic(b4a.alloc(32, 1))
  const connected = new Promise<Buffer>((resolve) =>
    b.once('connection', (conn) => resolve(conn.remotePublicKey))
  )
  a.on('connection', (conn) => conn.on('error', () => {}))
  b.on('connection', (conn) => conn.on('error', () => {}))
  await a.join(topic, { server: true, client: false }).flushed()
  b.join(topic, { server: false, client: true })
  const remote = await connected
  t.ok(b4a.equals(remote, a.keyPair.publicKey), 'b connected to a')
})
