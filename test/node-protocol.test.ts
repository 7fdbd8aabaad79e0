import test from 'brittle'
import b4a from 'b4a'
import Corestore from 'corestore'
import type Hypercore from 'hypercore'
import type { SwarmConnection } from 'hyperswarm'
import { testnet, swarm } from './helpers/net'
import { NodeChannel, NodeHandler, verifyChallenge, pickIndexes } from '../node/protocol'
import { generateKeyPair } from '../lib/identity'
import { isScitError } from '../lib/errors'

async function connected (t: test.Assert, handler: NodeHandler | null): Promise<{ node: NodeChannel, bot: NodeChannel }> {
  const net = await testnet(t)
  const identity = generateKeyPair()
  const a = swarm(t, net, { keyPair: identity })
  const b = swarm(t, net)
  const topic = b4a.alloc(32, 3)
  const nodeSide = new Promise<NodeChannel>(resolve => a.on('connection', (conn: SwarmConnection) => { conn.on('error', () => {}); resolve(NodeChannel.attach(conn, handler)) }))
  const botSide = new Promise<NodeChannel>(resolve => b.on('connection', (conn: SwarmConnection) => { conn.on('error', () => {}); resolve(NodeChannel.attach(conn, null)) }))
  await a.join(topic, { server: true, client: false }).flushed()
  b.join(topic, { server: false, client: true })
  const [node, bot] = await Promise.all([nodeSide, botSide])
  t.teardown(() => { node.close(); bot.close() }, { order: -1 })
  return { node, bot }
}

async function archive (t: test.Assert, blocks: number): Promise<{ store: Corestore, core: Hypercore }> {
  const store = new Corestore(await t.tmp())
  const core = store.get({ name: 'archive' })
  await core.ready()
  for (let i = 0; i < blocks; i++) await core.append(b4a.from(`block ${i} `.repeat(20)))
  t.teardown(() => store.close())
  return { store, core }
}

function handler (held: Hypercore | null): NodeHandler {
  return {
    node: b4a.alloc(32, 1),
    statusCore: b4a.alloc(32, 2),
    logCore: b4a.alloc(32, 3),
    workloads: () => [{ id: 'web', kind: 'service', state: 'running', reason: 'sandboxed', since: 1700000000000, restarts: 1, ports: [{ port: 8080, host: 41000 }] }],
    held: key => (held !== null && b4a.equals(key, held.key) ? held : null)
  }
}

test('ping over a real Hyperswarm connection answers with the nonce', async t => {
  const { bot, node } = await connected(t, handler(null))
  const rtt = await bot.ping()
  t.ok(rtt >= 0, `rtt ${rtt}ms`)
  t.ok(await node.ping() >= 0, 'a bot answers ping too')
})

test('status returns the node\'s workloads and its cores', async t => {
  const { bot } = await connected(t, handler(null))
  const s = await bot.status()
  t.alike(s.statusCore, b4a.alloc(32, 2))
  t.is(s.workloads.length, 1)
  t.is(s.workloads[0].state, 'running')
  t.alike(s.workloads[0].ports, [{ port: 8080, host: 41000 }])
})

test('a storage challenge is answered from held blocks and verifies against the challenger\'s copy', async t => {
  const { store, core } = await archive(t, 20)
  const { bot } = await connected(t, handler(core))
  // The challenger's copy: replicated, Merkle-verified.
  const mine = new Corestore(await t.tmp())
  t.teardown(() => mine.close())
  const s1 = store.replicate(true) as NodeJS.ReadWriteStream
  const s2 = mine.replicate(false) as NodeJS.ReadWriteStream
  s1.pipe(s2).pipe(s1)
  t.teardown(() => { (s1 as unknown as { destroy(): void }).destroy(); (s2 as unknown as { destroy(): void }).destroy() })
  const copy = mine.get({ key: core.key })
  await copy.ready()
  await copy.update({ wait: true })

  const indexes = pickIndexes(copy.length, 5)
  t.is(new Set(indexes).size, 5)
  const { nonce, proofs } = await bot.challenge(core.key, indexes)
  t.ok(await verifyChallenge(copy, nonce, indexes, proofs), 'proofs verify')
  const other = b4a.alloc(32, 5)
  t.absent(await verifyChallenge(copy, other, indexes, proofs), 'a different nonce does not verify: answers cannot be replayed')
})

test('a challenge on a core or block the node does not hold is refused', async t => {
  const { core } = await archive(t, 3)
  const { bot } = await connected(t, handler(core))
  for (const [what, key, idx] of [['unknown core', b4a.alloc(32, 9), [0]], ['block past the end', core.key, [7]]] as const) {
    try {
      await bot.challenge(key, [...idx])
      t.fail(`${what}: answered`)
    } catch (err) {
      t.ok(isScitError(err, 'REJECTED'), `${what}: ${(err as Error).message}`)
    }
  }
})

test('the protocol has no message that can start, stop or change a workload', t => {
  const names = Object.getOwnPropertyNames(NodeChannel.prototype).filter(n => n !== 'constructor' && !n.startsWith('on') && !['request', 'settle', 'failAll', 'closed'].includes(n))
  t.alike(names.sort(), ['challenge', 'close', 'ping', 'status'])
})
