import test from 'brittle'
import b4a from 'b4a'
import { testnet, swarm } from './helpers/net'
import { Presence, PresenceInput } from '../node/presence'
import { lookupPresence } from '../lib/presence'
import { generateKeyPair } from '../lib/identity'
import { seal } from '../lib/envelope'
import { isScitError } from '../lib/errors'
import { ZERO, GiB } from '../lib/resources'

function record(over: Partial<PresenceInput> = {}): PresenceInput {
  const resources = { ...ZERO, cpu: 4000, memory: 8 * GiB, ssd: 100 * GiB }
  return {
    market: b4a.alloc(32, 9),
    resources,
    free: resources,
    prices: { ...ZERO, cpu: 10, memory: 5, ssd: 1 },
    country: 'CH',
    city: 'Zurich',
    attributes: ['ssd'],
    statusCore: b4a.alloc(32, 1),
    logCore: b4a.alloc(32, 2),
    ...over
  }
}

test("a node's presence record is found by another DHT node and reflects an update", async (t) => {
  const net = await testnet(t)
  const identity = generateKeyPair()
  const s = swarm(t, net, { keyPair: identity })
  const presence = new Presence({ swarm: s, identity, record: record() })
  await presence.ready()
  t.teardown(() => presence.close(), { order: -1 })

  const other = net.createNode()
  const found = await lookupPresence(other, identity.publicKey)
  t.ok(found, 'found')
  t.is(found?.record.country, 'CH')
  t.is(found?.record.resources.cpu, 4000)
  t.alike(found?.record.statusCore, b4a.alloc(32, 1))

  const free = { ...record().resources, cpu: 3000 }
  t.ok(await presence.update({ free }), 'a change is published')
  t.absent(await presence.update({ free }), 'no change, no put')
  const after = await lookupPresence(other, identity.publicKey, { minSeq: presence.seq })
  t.is(after?.record.free.cpu, 3000, 'the update is visible')
  t.ok((after?.seq ?? 0) > (found?.seq ?? 0), 'seq grew')
})

test('a node with no record is null; a record signed for another purpose is refused', async (t) => {
  const net = await testnet(t)
  const a = net.createNode()
  const b = net.createNode()
  const nobody = generateKeyPair()
  t.is(await lookupPresence(b, nobody.publicKey), null)

  // A valid DHT record under the key whose value is not a presence envelope.
  const kp = generateKeyPair()
  await a.mutablePut(kp, seal(kp, { type: 'bid', seq: 5, timestamp: 1, body: b4a.from('x') }), {
    seq: 5
  })
  try {
    await lookupPresence(b, kp.publicKey)
    t.fail('accepted')
  } catch (err) {
    t.ok(isScitError(err, 'VERIFICATION'), (err as Error).message)
  }
  // A presence envelope whose body does not decode.
  await a.mutablePut(
    kp,
    seal(kp, { type: 'presence', seq: 6, timestamp: 1, body: b4a.from('garbage') }),
    { seq: 6 }
  )
  await t.exception(lookupPresence(b, kp.publicKey, { minSeq: 6 }), /malformed/)
})

test('the node joins the market topic as a server that clients find', async (t) => {
  const net = await testnet(t)
  const identity = generateKeyPair()
  const s = swarm(t, net, { keyPair: identity })
  s.on('connection', (conn) => conn.on('error', () => {}))
  const presence = new Presence({ swarm: s, identity, record: record() })
  await presence.ready()
  t.teardown(() => presence.close(), { order: -1 })
  const client = swarm(t, net)
  const connected = new Promise<Buffer>((resolve) =>
    client.on('connection', (conn) => {
      conn.on('error', () => {})
      resolve(conn.remotePublicKey)
    })
  )
  client.join(presence.topic, { server: false, client: true })
  t.alike(await connected, identity.publicKey, 'connected to the node under its identity key')
})
