import fs from 'fs'
import path from 'path'
import Corestore from 'corestore'
import type Hypercore from 'hypercore'
import type { SwarmConnection } from 'hyperswarm'
import type { Assert } from 'brittle'
import { randomBlocks } from './helpers/blocks'
import { testnet, swarm } from './helpers/net'
import {
  world,
  node,
  bot,
  moneyConserved,
  nodeState,
  stateOn,
  FAST_MONITOR,
  healed
} from './helpers/deploy'
import { deploy, waitRunning } from '../bot/deployment'
import type { Bot } from '../bot/bot'
import type { ChallengeEvent } from '../bot/monitor'
import { encodeKey } from '../lib/keys'
import { ZERO, MiB } from '../lib/resources'
import type { Testnet } from '../lib/testnet'
import { sandboxTest } from './helpers/sandbox'

/** Nodes that sell disk (hdd) at a price, so a mirror lease costs something and a failed one refunds something. */
const ARCHIVE_NODE = {
  capacity: { ...ZERO, cpu: 1000, memory: 2048 * MiB, ssd: 1024 * MiB, hdd: 64 * MiB },
  prices: { ...ZERO, cpu: 10, memory: 1, hdd: 100_000 }
}

/** Someone's data: a core of `blocks` random blocks, written and served by its owner on its own swarm (not the bot, not a node). */
async function ownerCore(t: Assert, net: Testnet, blocks: number): Promise<Hypercore> {
  const store = new Corestore(await t.tmp())
  t.teardown(() => store.close(), { order: 1 })
  const core = store.get({ name: 'data' })
  await core.ready()
  await core.append(randomBlocks(blocks))
  const s = swarm(t, net)
  s.on('connection', (conn: SwarmConnection) => {
    conn.on('error', () => {})
    store.replicate(conn)
  })
  await s.join(core.discoveryKey, { server: true, client: true }).flushed()
  return core
}

async function mirrorTemplate(t: Assert, source: Buffer): Promise<string> {
  const file = path.join(await t.tmp(), 'vault.yaml')
  fs.writeFileSync(
    file,
    [
      'name: vault',
      'version: 1',
      'workloads:',
      '  - name: vault',
      '    kind: mirror',
      `    mirror: { size: 4MB, source: ${encodeKey(source)} }`,
      'placement: { countries: [CH], spread: true }',
      'duration: 1h',
      'budget: 1000'
    ].join('\n') + '\n'
  )
  return file
}

/** Every storage challenge the monitor makes, from now on; `next(pred)` resolves with the first (past or future) that matches. */
function challenges(b: Bot): {
  next: (pred: (e: ChallengeEvent) => boolean) => Promise<ChallengeEvent>
} {
  const seen: ChallengeEvent[] = []
  const waiting: Array<{
    pred: (e: ChallengeEvent) => boolean
    resolve: (e: ChallengeEvent) => void
  }> = []
  b.events.on('challenge', (e: ChallengeEvent) => {
    seen.push(e)
    for (const w of [...waiting])
      if (w.pred(e)) {
        waiting.splice(waiting.indexOf(w), 1)
        w.resolve(e)
      }
  })
  return {
    next: (pred) => {
      const have = seen.find(pred)
      return have
        ? Promise.resolve(have)
        : new Promise((resolve) => waiting.push({ pred, resolve }))
    }
  }
}

sandboxTest(
  'a mirror node that loses the data fails its storage challenges: the monitor by itself fails the lease and buys a node that keeps the mirror and answers; money is conserved',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const nodes = [await node(t, w, ARCHIVE_NODE), await node(t, w, ARCHIVE_NODE)]
    const src = await ownerCore(t, net, 48)
    const b = await bot(t, w, { monitor: { ...FAST_MONITOR, challengeInterval: 300 } })
    const seen = challenges(b)

    const d = await deploy(b, { template: await mirrorTemplate(t, src.key) })
    await waitRunning(b, d)
    const lease = d.trades[0]
    const holder = nodes.find((n) => n.key === lease.node)
    const spare = nodes.find((n) => n.key !== lease.node)
    if (!holder || !spare) return t.fail('expected the lease on one of the two nodes')

    const done = healed(b)
    b.monitor.start()
    const first = await seen.next((e) => e.trade === lease.id)
    t.ok(first.ok, `the holder answers a challenge on the source core: ${first.reason}`)
    const mine = b.store.get({ key: src.key })
    await mine.ready()
    t.is(mine.length, src.length, "the bot learned the source's signed length")
    const held: number[] = []
    for (let i = 0; i < mine.length; i++) if (await mine.has(i)) held.push(i)
    t.alike(held, [], 'without holding any of its blocks')
    await mine.close()

    // The holder's disk loses the mirror (or its farmer deletes it to sell the space twice).
    const lost = holder.store.get({ key: src.key })
    await lost.ready()
    await lost.clear(0, lost.length)
    t.absent(await lost.has(0), "the holder's blocks are gone")
    await lost.close()

    const failed = await seen.next((e) => e.trade === lease.id && !e.ok)
    t.ok(/not held/.test(failed.reason), `its next challenge is refused: ${failed.reason}`)
    const what = await done
    t.ok(what.startsWith('healed'), what)

    const after = await b.client.trade(lease.id)
    t.is(after?.state, 'failed', 'the monitor failed the lease')
    t.ok((after?.refunded ?? 0) > 0, `its unused escrow is refunded (${after?.refunded ?? 0})`)
    t.ok(
      /storage proof/.test(d.trades.find((x) => x.id === lease.id)?.reason ?? ''),
      `for want of a storage proof: ${d.trades.find((x) => x.id === lease.id)?.reason ?? ''}`
    )
    const replacement = d.trades.find((x) => x.replaces === lease.id)
    if (!replacement) return t.fail('no replacement trade')
    t.is(replacement.node, spare.key, 'the replacement lease is on the other node')
    t.is(replacement.phase, 'settled')

    await nodeState(spare, replacement.id, (s) => s === 'running')
    t.is(stateOn(spare, replacement.id), 'running', 'the other node runs the mirror (holds it all)')
    const kept = spare.store.get({ key: src.key })
    await kept.ready()
    t.ok(await kept.has(0, src.length), 'every block of the source core is on the other node')
    await kept.close()
    const proof = await seen.next((e) => e.trade === replacement.id)
    t.ok(proof.ok, `and it answers the monitor's challenges: ${proof.reason}`)

    const money = await moneyConserved(w)
    t.ok(money.ok, `money is conserved (${money.held} of ${money.minted})`)
  }
)

sandboxTest('a mirror without a source is challenged on its contract core', async (t) => {
  const net = await testnet(t)
  const w = await world(t, net)
  await node(t, w, ARCHIVE_NODE)
  const b = await bot(t, w, { monitor: { ...FAST_MONITOR, challengeInterval: 300 } })
  const dir = await t.tmp()
  fs.mkdirSync(path.join(dir, 'data'))
  const [bytes] = randomBlocks(1, 300 * 1024)
  fs.writeFileSync(path.join(dir, 'data', 'blob.bin'), bytes)
  const file = path.join(dir, 'seeded.yaml')
  fs.writeFileSync(
    file,
    [
      'name: seeded',
      'version: 1',
      'workloads:',
      '  - name: vault',
      '    kind: mirror',
      '    files: [data/]',
      '    mirror: { size: 1MB }',
      'duration: 1h',
      'budget: 1000'
    ].join('\n') + '\n'
  )
  const seen = challenges(b)
  const d = await deploy(b, { template: file })
  await waitRunning(b, d)
  const target = await b.monitor.challenges.target(d, d.trades[0])
  t.alike(target?.key, (await b.writer(d)).core.key, 'the core challenged is the contract core')
  b.monitor.start()
  const e = await seen.next((x) => x.trade === d.trades[0].id)
  t.ok(e.ok, `the node answers: ${e.reason}`)
})
