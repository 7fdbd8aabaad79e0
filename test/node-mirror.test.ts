import test from 'brittle'
import b4a from 'b4a'
import type Hypercore from 'hypercore'
import type { SwarmConnection } from 'hyperswarm'
import { randomBlocks } from './helpers/blocks'
import { swarm } from './helpers/net'

import {
  workload,
  manifest,
  buy,
  contract,
  settle,
  fileOf,
  nodeTransition,
  keyOf,
  TestBot,
  Written,
  nodeScene,
  NodeScene
} from './helpers/node-bot'
import { ZERO, MiB, Resources } from '../lib/resources'
import { isScitError } from '../lib/errors'
import type { Testnet } from '../lib/testnet'
import type { Manifest } from '../lib/contract'
import { NodeChannel } from '../lib/node-protocol'
import { signedHead, SignedHead } from '../lib/storage-proof'
import { readCore } from '../lib/status'
import type { StatusRecord } from '../lib/node-messages'
import type { NodeDaemon } from '../node/daemon'
import type { Transition } from '../node/workload'
import { workloadId } from '../lib/trade-workload'
import { sandboxTest } from './helpers/sandbox'

const CAPACITY: Resources = {
  ...ZERO,
  cpu: 1000,
  memory: 2048 * MiB,
  ssd: 256 * MiB,
  hdd: 256 * MiB
}

type Scene = NodeScene

function scene(t: test.Assert): Promise<Scene> {
  return nodeScene(t, { capacity: CAPACITY })
}

/** A core the bot writes: `blocks` blocks of random bytes, in the bot's own store (replicated on its connections). */
async function sourceCore(b: TestBot, blocks: number): Promise<Hypercore> {
  const store = b.peer.store
  if (store === null) throw new Error('the test bot has no store')
  const core = store.get({ name: `archive-${Math.random().toString(36).slice(2)}` })
  await core.ready()
  await core.append(randomBlocks(blocks))
  return core
}

function mirrorManifest(
  size: number,
  source: Buffer | null,
  files: Manifest['workloads'][number]['files'] = []
): Manifest {
  return manifest(
    workload({
      kind: 'mirror',
      command: [],
      restart: 'never',
      files,
      resources: { ...ZERO, hdd: size },
      mirror: { size, source }
    })
  )
}

interface Kept {
  trade: string
  id: string
  w: Written
  running: Transition
  ms: number
}

/** Buy, write and settle a mirror contract; resolves once the node reports it fully held. */
async function keep(
  t: test.Assert,
  s: Scene,
  m: Manifest,
  files: Record<string, string> = {}
): Promise<Kept> {
  const trade = await buy(s.b, m)
  const w = await contract(t, s.b, m, [trade], files)
  const id = workloadId({ id: trade } as never)
  const running = nodeTransition(
    s.n,
    id,
    (tr) => tr.state === 'running' || tr.state === 'failed' || tr.state === 'refused'
  )
  const start = Date.now()
  await settle(s.b, trade, w, m)
  const tr = await running
  return { trade, id, w, running: tr, ms: Date.now() - start }
}

/** A NodeChannel to `n` from a peer of its own: not the bot, not the market. */
async function challenger(t: test.Assert, net: Testnet, n: NodeDaemon): Promise<NodeChannel> {
  const s = swarm(t, net)
  const ch = new Promise<NodeChannel>((resolve) =>
    s.on('connection', (conn: SwarmConnection) => {
      conn.on('error', () => {})
      if (b4a.equals(conn.remotePublicKey, n.identity.publicKey))
        resolve(NodeChannel.attach(conn, null))
    })
  )
  s.joinPeer(n.identity.publicKey)
  const c = await ch
  t.teardown(() => c.close(), { order: -2 })
  return c
}

/** Challenge 8 random blocks of `copy`'s core, at the head the challenger's `copy` has (a replica or the writer's core). */
async function challenge(ch: NodeChannel, copy: Hypercore): Promise<{ ok: boolean; ms: number }> {
  const head = await signedHead(copy)
  if (head === null) throw new Error('no signed head')
  const start = Date.now()
  const verdict = await ch.challenge(copy.key, head, 8)
  return { ok: verdict.ok, ms: Date.now() - start }
}

sandboxTest(
  'a node keeps a mirror core written by the bot, reports it held, and passes a challenge from another peer',
  async (t) => {
    const s = await scene(t)
    const src = await sourceCore(s.b, 64)
    const k = await keep(t, s, mirrorManifest(8 * MiB, src.key))
    t.is(k.running.state, 'running', k.running.reason)
    t.ok(/holds 4/.test(k.running.reason), `running = fully held: ${k.running.reason}`)
    t.comment(
      `mirror of ${src.byteLength} bytes held ${k.ms} ms after settle (${(src.byteLength / MiB / (k.ms / 1000)).toFixed(1)} MiB/s, settle and verification included)`
    )

    const mine = s.n.store.get({ key: src.key })
    await mine.ready()
    t.ok(await mine.has(0, src.length), 'every block of the source core is on the node')
    await mine.close()

    const ch = await challenger(t, s.net, s.n)
    const r = await challenge(ch, src)
    t.ok(
      r.ok,
      `the source core's challenge verifies against its signed head (${r.ms} ms round trip)`
    )
    t.ok(
      (await challenge(ch, k.w.writer.core)).ok,
      "so does the contract core's (what bot/monitor challenges)"
    )

    await s.n.status.flush()
    const states = (
      await readCore<StatusRecord>(s.n.status.status, s.n.identity.publicKey, 'status')
    ).records
      .filter((x) => x.body.workload === k.id)
      .map((x) => x.body.state)
    t.is(states[0], 'verifying')
    t.is(states[states.length - 1], 'running', `the status core recorded ${states.join(' → ')}`)
    t.ok(states.includes('starting'), 'with progress while downloading')
  }
)

sandboxTest(
  'a mirror without a source keeps the contract core, whose file blobs are the mirrored bytes',
  async (t) => {
    const s = await scene(t)
    const data = 'x'.repeat(300 * 1024)
    const m = mirrorManifest(1 * MiB, null, [await fileOf(t, 'data.txt', data)])
    const k = await keep(t, s, m, { 'data.txt': data })
    t.is(k.running.state, 'running', k.running.reason)
    const core = k.w.writer.core
    const mine = s.n.store.get({ key: core.key })
    await mine.ready()
    t.ok(await mine.has(0, core.length), 'the whole contract core, blobs included, is on the node')
    await mine.close()
    t.ok((await challenge(await challenger(t, s.net, s.n), core)).ok, 'a challenge on it passes')
  }
)

sandboxTest('a node whose mirrored blocks were deleted fails the challenge', async (t) => {
  const s = await scene(t)
  const src = await sourceCore(s.b, 32)
  const k = await keep(t, s, mirrorManifest(4 * MiB, src.key))
  t.is(k.running.state, 'running', k.running.reason)
  const ch = await challenger(t, s.net, s.n)
  t.ok((await challenge(ch, src)).ok, 'passes while the blocks are there')

  // The farmer's disk loses the bytes (or the farmer deletes them to sell the space twice).
  const lost = s.n.store.get({ key: src.key })
  await lost.ready()
  await lost.clear(0, lost.length)
  t.absent(await lost.has(0, 1), 'the blocks are gone')
  await lost.close()

  try {
    const r = await challenge(ch, src)
    t.fail(`answered (${r.ok ? 'verifying' : 'not verifying'})`)
  } catch (err) {
    t.ok(isScitError(err, 'REJECTED'), `refused: ${(err as Error).message}`)
  }
})

sandboxTest(
  'closing a mirror lease clears its blocks and gives the capacity back to the offer',
  async (t) => {
    const s = await scene(t)
    const me = keyOf(s.n)
    const src = await sourceCore(s.b, 32)
    const k = await keep(t, s, mirrorManifest(4 * MiB, src.key))
    t.is(k.running.state, 'running', k.running.reason)
    t.is(
      (await s.b.peer.client.offer(me))?.available.hdd,
      CAPACITY.hdd - 4 * MiB,
      'the lease holds 4 MiB of hdd'
    )

    const stopped = nodeTransition(s.n, k.id, (tr) => tr.state === 'stopped')
    const [closed] = await s.b.peer.client.submitAndWait(
      [{ type: 'close', body: { trade: k.trade, reason: 'done' } }],
      { final: false }
    )
    t.ok(closed.accepted, 'the bot closed the lease')
    const tr = await stopped
    t.ok(/closed.*cleared/.test(tr.reason), `stopped: ${tr.reason}`)

    const mine = s.n.store.get({ key: src.key })
    await mine.ready()
    t.absent(await mine.has(0, 1), 'the mirrored blocks are deleted')
    await mine.close()
    t.is(
      (await s.b.peer.client.offer(me))?.available.hdd,
      CAPACITY.hdd,
      'the hdd is free again in the offer'
    )
    try {
      await (
        await challenger(t, s.net, s.n)
      ).challenge(src.key, (await signedHead(src)) as SignedHead, 1)
      t.fail('a released archive still answered')
    } catch (err) {
      t.ok(isScitError(err, 'REJECTED'), `challenges are refused: ${(err as Error).message}`)
    }
  }
)

sandboxTest('a stop instruction releases the mirror too', async (t) => {
  const s = await scene(t)
  const src = await sourceCore(s.b, 8)
  const k = await keep(t, s, mirrorManifest(1 * MiB, src.key))
  t.is(k.running.state, 'running', k.running.reason)
  const stopped = nodeTransition(s.n, k.id, (tr) => tr.state === 'stopped')
  await k.w.writer.appendInstruction({ action: 'stop', reason: 'no longer needed' })
  t.ok(/stop instruction.*cleared/.test((await stopped).reason))
  const mine = s.n.store.get({ key: src.key })
  await mine.ready()
  t.absent(await mine.has(0, 1), 'the mirrored blocks are deleted')
  await mine.close()
})

sandboxTest(
  'a mirror larger than the disk its lease pays for fails without being downloaded',
  async (t) => {
    const s = await scene(t)
    const src = await sourceCore(s.b, 32) // 2 MiB
    const k = await keep(t, s, mirrorManifest(1 * MiB, src.key))
    t.is(k.running.state, 'failed')
    t.ok(/more than/.test(k.running.reason), k.running.reason)
    const mine = s.n.store.get({ key: src.key })
    await mine.ready()
    t.absent(await mine.has(0, 1), 'nothing was downloaded')
    await mine.close()
  }
)
