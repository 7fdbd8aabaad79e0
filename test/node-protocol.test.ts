import test from 'brittle'
import b4a from 'b4a'
import Corestore from 'corestore'
import type Hypercore from 'hypercore'
import type { SwarmConnection } from 'hyperswarm'
import { testnet, swarm } from './helpers/net'
import { NodeChannel, NodeHandler } from '../lib/node-protocol'
import {
  signedHead,
  proveStorage,
  verifyStorage,
  challengeIndexes,
  challengeCount,
  MAX_ANSWER_BYTES,
  SignedHead,
  StorageProof
} from '../lib/storage-proof'
import { generateKeyPair } from '../lib/identity'
import { isScitError } from '../lib/errors'

async function connected(
  t: test.Assert,
  handler: NodeHandler | null
): Promise<{ node: NodeChannel; bot: NodeChannel }> {
  const net = await testnet(t)
  const identity = generateKeyPair()
  const a = swarm(t, net, { keyPair: identity })
  const b = swarm(t, net)
  const topic = b4a.alloc(32, 3)
  const nodeSide = new Promise<NodeChannel>((resolve) =>
    a.on('connection', (conn: SwarmConnection) => {
      conn.on('error', () => {})
      resolve(NodeChannel.attach(conn, handler))
    })
  )
  const botSide = new Promise<NodeChannel>((resolve) =>
    b.on('connection', (conn: SwarmConnection) => {
      conn.on('error', () => {})
      resolve(NodeChannel.attach(conn, null))
    })
  )
  await a.join(topic, { server: true, client: false }).flushed()
  b.join(topic, { server: false, client: true })
  const [node, bot] = await Promise.all([nodeSide, botSide])
  t.teardown(
    () => {
      node.close()
      bot.close()
    },
    { order: -1 }
  )
  return { node, bot }
}

async function archive(
  t: test.Assert,
  blocks: number
): Promise<{ store: Corestore; core: Hypercore }> {
  const store = new Corestore(await t.tmp())
  const core = store.get({ name: 'archive' })
  await core.ready()
  for (let i = 0; i < blocks; i++) await core.append(b4a.from(`block ${i} `.repeat(20)))
  t.teardown(() => store.close())
  return { store, core }
}

function handler(held: Hypercore | null): NodeHandler {
  return {
    node: b4a.alloc(32, 1),
    statusCore: b4a.alloc(32, 2),
    logCore: b4a.alloc(32, 3),
    workloads: () => [
      {
        id: 'web',
        kind: 'service',
        state: 'running',
        reason: 'sandboxed',
        since: 1700000000000,
        restarts: 1,
        ports: [{ port: 8080, key: b4a.alloc(32, 4) }]
      }
    ],
    held: (key) => (held !== null && b4a.equals(key, held.key) ? held : null)
  }
}

test('ping over a real Hyperswarm connection answers with the nonce', async (t) => {
  const { bot, node } = await connected(t, handler(null))
  const rtt = await bot.ping()
  t.ok(rtt >= 0, `rtt ${rtt}ms`)
  t.ok((await node.ping()) >= 0, 'a bot answers ping too')
})

test("status returns the node's workloads and its cores", async (t) => {
  const { bot } = await connected(t, handler(null))
  const s = await bot.status()
  t.alike(s.statusCore, b4a.alloc(32, 2))
  t.is(s.workloads.length, 1)
  t.is(s.workloads[0].state, 'running')
  t.alike(s.workloads[0].ports, [{ port: 8080, key: b4a.alloc(32, 4) }])
})

/** A replica of `core` in a store of its own that has the signed head and no block: what a challenger holds. */
async function headOnly(t: test.Assert, store: Corestore, core: Hypercore): Promise<Hypercore> {
  const mine = new Corestore(await t.tmp())
  t.teardown(() => mine.close())
  const s1 = store.replicate(true) as NodeJS.ReadWriteStream
  const s2 = mine.replicate(false) as NodeJS.ReadWriteStream
  s1.pipe(s2).pipe(s1)
  t.teardown(() => {
    ;(s1 as unknown as { destroy(): void }).destroy()
    ;(s2 as unknown as { destroy(): void }).destroy()
  })
  const copy = mine.get({ key: core.key })
  await copy.ready()
  await copy.update({ wait: true })
  return copy
}

test('a storage challenge is answered with blocks and Merkle paths that verify against the signed head alone', async (t) => {
  const { store, core } = await archive(t, 20)
  const { bot } = await connected(t, handler(core))
  const copy = await headOnly(t, store, core)
  t.is(copy.length, 20, 'the challenger learned the signed length')
  const head = await signedHead(copy)
  if (head === null) return t.fail('no head')
  t.alike(head.treeHash, await core.treeHash(20), "its tree hash is the writer's")

  const verdict = await bot.challenge(core.key, head, 5)
  t.alike(verdict, { ok: true }, 'the answer verifies')
  const held: number[] = []
  for (let i = 0; i < copy.length; i++) if (await copy.has(i)) held.push(i)
  t.alike(held, [], 'the challenger never needed a block')

  await core.append([b4a.from('later 1'), b4a.from('later 2')])
  t.alike(
    await bot.challenge(core.key, head, 5),
    { ok: true },
    'a core that grew still answers at the length the challenger trusts'
  )
})

test("an answer verifies only for its nonce, its core's signed tree and unaltered blocks", async (t) => {
  const { core } = await archive(t, 20)
  const other = (await archive(t, 0)).core
  for (let i = 0; i < 20; i++) await other.append(b4a.from(`other ${i}`))
  const head = await signedHead(core)
  const otherHead = await signedHead(other)
  if (head === null || otherHead === null) return t.fail('no head')
  const nonce = b4a.alloc(32, 1)
  const proof = await proveStorage(core, nonce, head.length, 6)
  t.alike(
    proof.blocks.map((b) => b.index),
    challengeIndexes(nonce, 20, 6),
    'the nonce picks the blocks'
  )
  t.alike(verifyStorage(head, nonce, 6, proof), { ok: true })

  const no = (v: ReturnType<typeof verifyStorage>): string => (v.ok ? 'verified' : v.reason)
  const again = b4a.alloc(32, 2)
  t.ok(
    /not this challenge|blocks answered/.test(no(verifyStorage(head, again, 6, proof))),
    'an old answer does not answer a fresh nonce (replay)'
  )
  t.ok(
    /signed tree/.test(no(verifyStorage(otherHead, nonce, 6, proof))),
    "nor another core's tree (other bytes)"
  )
  t.ok(
    /signed tree/.test(no(verifyStorage({ length: 20, treeHash: b4a.alloc(32) }, nonce, 6, proof))),
    'nor a tree hash the writer did not sign'
  )
  t.ok(
    /roots are not/.test(no(verifyStorage({ ...head, length: 19 }, nonce, 6, proof))),
    'nor another length'
  )

  const flipped: StorageProof = {
    ...proof,
    blocks: proof.blocks.map((b, i) =>
      i === 2 ? { ...b, value: b4a.concat([b.value.subarray(0, -1), b4a.from('!')]) } : b
    )
  }
  t.ok(
    /does not hash to a root/.test(no(verifyStorage(head, nonce, 6, flipped))),
    'an altered block fails'
  )
  const dropped: StorageProof = { ...proof, blocks: proof.blocks.slice(0, 5) }
  t.ok(
    /5 blocks answered, 6 asked/.test(no(verifyStorage(head, nonce, 6, dropped))),
    'a missing block fails'
  )
  const lied: StorageProof = {
    ...proof,
    blocks: proof.blocks.map((b, i) => (i === 0 ? { ...b, nodes: b.nodes.slice(1) } : b))
  }
  t.ok(!verifyStorage(head, nonce, 6, lied).ok, 'a path with a node left out fails')
})

test('a challenge on a core, length or block the node does not hold is refused', async (t) => {
  const { core } = await archive(t, 3)
  const { bot } = await connected(t, handler(core))
  const head = (await signedHead(core)) as SignedHead
  const cases: Array<[string, Buffer, SignedHead]> = [
    ['unknown core', b4a.alloc(32, 9), head],
    ['length past the end', core.key, { length: 7, treeHash: b4a.alloc(32) }]
  ]
  for (const [what, key, h] of cases) {
    try {
      await bot.challenge(key, h, 1)
      t.fail(`${what}: answered`)
    } catch (err) {
      t.ok(isScitError(err, 'REJECTED'), `${what}: ${(err as Error).message}`)
    }
  }
  await core.clear(0, 3)
  try {
    await bot.challenge(core.key, head, 2)
    t.fail('cleared blocks: answered')
  } catch (err) {
    t.ok(
      isScitError(err, 'REJECTED') && /not held/.test((err as Error).message),
      `cleared blocks: ${(err as Error).message}`
    )
  }
})

test('answers are bounded: a node refuses to send more than MAX_ANSWER_BYTES, and challengeCount asks for what fits', async (t) => {
  const store = new Corestore(await t.tmp())
  t.teardown(() => store.close())
  const core = store.get({ name: 'big' })
  await core.ready()
  const big = b4a.alloc(3 * 1024 * 1024, 7)
  await core.append([big, big, big, big])
  const { bot } = await connected(t, handler(core))
  const head = (await signedHead(core)) as SignedHead
  try {
    await bot.challenge(core.key, head, 4)
    t.fail('answered 12 MiB')
  } catch (err) {
    t.ok(
      isScitError(err, 'REJECTED') &&
        new RegExp(`exceed ${MAX_ANSWER_BYTES}`).test((err as Error).message),
      (err as Error).message
    )
  }
  const n = challengeCount(core)
  t.is(n, 1, 'for 3 MiB blocks the challenger asks one at a time')
  t.alike(await bot.challenge(core.key, head, n), { ok: true })
})

test('the protocol has no message that can start, stop or change a workload', (t) => {
  const names = Object.getOwnPropertyNames(NodeChannel.prototype).filter(
    (n) =>
      n !== 'constructor' &&
      !n.startsWith('on') &&
      !['request', 'settle', 'failAll', 'closed'].includes(n)
  )
  t.alike(names.sort(), ['challenge', 'close', 'ping', 'status'])
})
