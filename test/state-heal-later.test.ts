/**
 * A heal restores the newest snapshot the old replica's node signed, not only the one its bot could copy (the soak,
 * seed 2700: a bot cut off from a live replica's node healed it onto a node that restored the bot's stale copy, and
 * the writes its users made meanwhile, snapshotted by that node, were lost).
 */
import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import { testnet, cutDHT } from './helpers/net'
import { world, node, bot, healed, nodeState, FAST_MONITOR } from './helpers/deploy'
import type { World } from './helpers/deploy'
import type { Testnet } from '../lib/testnet'
import type { Assert } from 'brittle'
import { ZERO, MiB } from '../lib/resources'
import { crmTemplate, addContact, hashOf, verified, tunnelTo } from './helpers/state'
import { sandboxTest } from './helpers/sandbox'
import { deploy, waitRunning } from '../bot/deployment'
import { workloadId } from '../lib/trade-workload'

/** A bounded wait, so a failure is a failed assertion and not a brittle timeout. */
const BOUND = 30_000

/** A node at `price` per cpu unit: the cheapest one is bought first. */
const priced = (price: number) => ({
  capacity: { ...ZERO, cpu: 1000, memory: 2048 * MiB, ssd: 1024 * MiB },
  prices: { ...ZERO, cpu: price, memory: 1 }
})

/**
 * A bot on a DHT node the test can cut from any node (no heal for silence: the test ends each lease itself), its CRM
 * deployed and running, and a tunnel to it from a DHT node of its own, never cut.
 */
async function cutOffCrm(t: Assert, net: Testnet, w: World) {
  const cut = cutDHT(net)
  const b = await bot(t, w, {
    dht: cut.dht,
    monitor: { ...FAST_MONITOR, grace: 10 * 60_000 },
    trader: { bidWindow: 30_000, attempts: 2, backoff: 100, reachTimeout: 3000 }
  })
  const d = await deploy(b, { template: await crmTemplate(t, { state: true }) })
  b.monitor.start()
  await waitRunning(b, d)
  const port = await tunnelTo(t, w, d.contract, b.identity)
  return { cut, b, d, port }
}

sandboxTest(
  "a bot cut off from a live replica's node heals it onto a node that restores that node's later snapshot, not the bot's copy",
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const nodes = [await node(t, w), await node(t, w)]
    // the test ends the lease itself, once the cut-off node has snapshotted the later writes
    const { cut, b, d, port } = await cutOffCrm(t, net, w)
    const lost = d.trades[0]
    const old = nodes.find((n) => n.key === lost.node)
    const spare = nodes.find((n) => n.key !== lost.node)
    if (!old || !spare) return t.fail('the CRM runs on no test node')
    const id = workloadId(lost)
    const file = path.join(old.supervisor.workDir(id), 'data.json')

    const ada = await addContact(port, 'Ada')
    const first = await hashOf({ 'data.json': file })
    const copied = await verified(b, lost.id, (s) => b4a.equals(Buffer.from(s.hash, 'hex'), first))
    t.comment(`the bot copied snapshot ${copied.seq}`)

    cut.cutFrom(old.key)
    const later = [await addContact(port, 'Grace'), await addContact(port, 'Edsger')]
    const want = await hashOf({ 'data.json': file })
    const keeper = old.stateKeepers.get(id)
    const until = Date.now() + BOUND
    while (Date.now() < until && !b4a.equals(keeper?.last?.snapshot.hash ?? b4a.alloc(0), want))
      await new Promise((resolve) => setTimeout(resolve, 100))
    const signed = keeper?.last?.snapshot.seq ?? 0
    t.ok(signed > copied.seq, `its node signed snapshot ${signed} with the later contacts`)
    const record = b.state.deployments.flatMap((x) => x.trades).find((x) => x.id === lost.id)
    t.is(record?.snapshot?.seq, copied.seq, 'the bot, cut off, holds only its earlier copy')

    const said: string[] = []
    spare.supervisor.on('transition', (x: { reason: string }) => said.push(x.reason))
    const done = healed(b)
    await b.trader.end(d, lost.id, 'fail', 'its node went silent')
    t.ok((await done).startsWith('healed'), 'the bot healed the CRM')
    const replacement = d.trades.find((x) => x.replaces === lost.id)
    t.is(replacement?.node, spare.key, 'onto the node it reaches')
    const ins = (await b.writer(d)).view.instructions.find((i) =>
      i.trades.includes(replacement?.id ?? '')
    )
    const ref = ins?.restore.find((r) => r.trade === replacement?.id)
    t.is(ref?.seq, copied.seq, 'the signed instruction names the snapshot the bot copied')

    const rows = await waitRunning(b, d, { deadline: Date.now() + 2 * BOUND })
    t.is(rows.find((r) => r.trade === replacement?.id)?.state, 'running', 'the healed replica runs')
    const rid = workloadId(replacement ?? lost)
    const data = fs.readFileSync(path.join(spare.supervisor.workDir(rid), 'data.json'), 'utf8')
    t.ok(
      [ada, ...later].every((c) => data.includes(c.id)),
      'it holds the contacts written while the bot was cut off, restored from the later snapshot'
    )
    const own = spare.stateKeepers.get(rid)?.last?.snapshot.seq ?? 0
    t.ok(
      own >= 1,
      `the restored data is the new replica's own snapshot ${own}: a restart resumes it`
    )
    t.ok(
      said.includes(`restored snapshot ${signed} (the contract named ${copied.seq})`),
      `its node says which snapshot it restored: ${said.join('; ')}`
    )
  }
)

// The soak (seed 2700 on a867766): a replacement killed before its first snapshot came back on a fresh store (its
// damaged one moved aside) and restored the heal's snapshot again, over the writes its work dir had taken since.
sandboxTest(
  'a healed replica restarted on a fresh store keeps its work dir: the heal is not restored over it again',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const data = await t.tmp()
    const first = await node(t, w, priced(8)) // the cheapest: the CRM starts there
    const spare = await node(t, w, { ...priced(10), data })
    // no heal for silence while the spare restarts: the test ends the first lease itself
    const b = await bot(t, w, { monitor: { ...FAST_MONITOR, grace: 10 * 60_000 } })
    const d = await deploy(b, { template: await crmTemplate(t, { state: true }) })
    b.monitor.start()
    await waitRunning(b, d)
    const lost = d.trades[0]
    t.is(lost.node, first.key, 'the CRM runs on the cheapest node')
    const port = await tunnelTo(t, w, d.contract, b.identity)
    const ada = await addContact(port, 'Ada')
    const file = path.join(first.supervisor.workDir(workloadId(lost)), 'data.json')
    const want = await hashOf({ 'data.json': file })
    await verified(b, lost.id, (s) => b4a.equals(Buffer.from(s.hash, 'hex'), want))

    const done = healed(b)
    await b.trader.end(d, lost.id, 'fail', 'its node went silent')
    t.ok((await done).startsWith('healed'), 'the bot healed the CRM')
    const replacement = d.trades.find((x) => x.replaces === lost.id)
    if (replacement?.node !== spare.key) return t.fail('the CRM was not healed onto the spare node')
    await waitRunning(b, d, { deadline: Date.now() + 2 * BOUND })
    const grace = await addContact(port, 'Grace') // after the restore, in the work dir only for now

    const id = workloadId(replacement)
    await spare.supervisor.stop(id, 'node shutting down')
    await spare.close()
    fs.renameSync(path.join(data, 'corestore'), path.join(data, 'corestore.damaged'))
    const again = await node(t, w, { ...priced(10), data, workloads: spare.supervisor.root })
    await nodeState(again, replacement.id, (s) => s === 'running')
    const kept = fs.readFileSync(path.join(again.supervisor.workDir(id), 'data.json'), 'utf8')
    t.ok(
      kept.includes(ada.id) && kept.includes(grace.id),
      'its work dir holds the contact written after the restore'
    )
  }
)

// The soak (seed 2700 on a44180e): a CRM healed onto a node ran its whole life while its bot was stopped and cut off,
// so the bot never read which state core it wrote to; its next heal named the snapshot of the replica before it, and
// 37 writes made on it were lost.
sandboxTest(
  'a heal of a replica whose state core its bot never read restores the newest snapshot that replica signed, not the one before it',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const a = await node(t, w, priced(8)) // the CRM starts on the cheapest
    const bNode = await node(t, w, priced(10)) // its first heal goes here
    const c = await node(t, w, priced(12)) // and its second here
    const { cut, b, d, port } = await cutOffCrm(t, net, w)
    const first = d.trades[0]
    t.is(first.node, a.key, 'the CRM runs on the cheapest node')
    const ada = await addContact(port, 'Ada')
    const aFile = path.join(a.supervisor.workDir(workloadId(first)), 'data.json')
    const adaHash = await hashOf({ 'data.json': aFile })
    await verified(b, first.id, (s) => b4a.equals(Buffer.from(s.hash, 'hex'), adaHash))

    // healed onto the second node, which the bot is cut from as soon as it is settled: it never reads its status
    const onB = healed(b)
    b.events.on('progress', (step: string) => {
      if (step === 'healed') cut.cutFrom(bNode.key)
    })
    await b.trader.end(d, first.id, 'fail', 'test: its node went away')
    t.ok((await onB).startsWith('healed'), 'healed once')
    const second = d.trades.find((x) => x.replaces === first.id)
    if (second?.node !== bNode.key) return t.fail('the first heal did not go to the second node')
    await nodeState(bNode, second.id, (s) => s === 'running')
    const later = [await addContact(port, 'Grace'), await addContact(port, 'Edsger')]
    const bFile = path.join(bNode.supervisor.workDir(workloadId(second)), 'data.json')
    const want = await hashOf({ 'data.json': bFile })
    const keeper = bNode.stateKeepers.get(workloadId(second))
    const until = Date.now() + BOUND
    while (Date.now() < until && !b4a.equals(keeper?.last?.snapshot.hash ?? b4a.alloc(0), want))
      await new Promise((resolve) => setTimeout(resolve, 100))
    const signed = keeper?.last?.snapshot.seq ?? 0
    t.ok(signed >= 1, `the second node signed snapshot ${signed} with the later contacts`)
    t.absent(second.snapshot, 'the bot holds no snapshot of the second replica')

    // healed again: the bot can only name the first replica's snapshot
    const said: string[] = []
    c.supervisor.on('transition', (x: { reason: string }) => said.push(x.reason))
    const onC = healed(b)
    await b.trader.end(d, second.id, 'fail', 'test: its node went away')
    t.ok((await onC).startsWith('healed'), 'healed twice')
    const third = d.trades.find((x) => x.replaces === second.id)
    t.is(third?.node, c.key, 'onto the third node')
    const ins = (await b.writer(d)).view.instructions.find((i) =>
      i.trades.includes(third?.id ?? '')
    )
    t.is(
      ins?.restore.find((r) => r.trade === third?.id)?.from,
      first.id,
      "the instruction names the first replica's snapshot"
    )
    await nodeState(c, third?.id ?? '', (s) => s === 'running')
    const cFile = path.join(c.supervisor.workDir(workloadId(third ?? second)), 'data.json')
    const data = fs.readFileSync(cFile, 'utf8')
    t.ok(
      [ada, ...later].every((x) => data.includes(x.id)),
      'the third replica holds the contacts written on the second, restored from its snapshot'
    )
    t.ok(
      said.some((x) => x.startsWith(`restored snapshot ${signed} of trade ${second.id}`)),
      `its node says what it restored: ${said.join('; ')}`
    )
  }
)
