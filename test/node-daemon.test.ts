import fs from 'fs'
import b4a from 'b4a'
import {
  workload,
  manifest,
  buy,
  contract,
  settle,
  fileOf,
  nodeTransition,
  ended,
  keyOf,
  nodeScene
} from './helpers/node-bot'
import { StreamDigest } from '../node/output'
import { readCore } from '../lib/status'
import type { StatusRecord } from '../lib/node-messages'
import { workloadId } from '../lib/trade-workload'
import { lookupPresence } from '../lib/presence'
import { sandboxTest } from './helpers/sandbox'

function blake(s: string): Buffer {
  const d = new StreamDigest()
  d.update(b4a.from(s))
  return d.digest()
}

sandboxTest(
  'a node sells capacity, a trade settles, a signed job runs in the sandbox and its digests are reported',
  async (t) => {
    const { b, n } = await nodeScene(t)
    const before = await b.peer.client.offer(keyOf(n))
    t.is(before?.available.cpu, 1000, 'the offer carries the capacity')

    const code = 'require("fs").writeFileSync("result.txt", "answer 42\\n"); console.log("done")'
    const m = manifest(
      workload({ files: [await fileOf(t, 'main.js', code)], output: 'result.txt' })
    )
    const trade = await buy(b, m)
    const leased = await b.peer.client.offer(keyOf(n))
    t.is(leased?.available.cpu, 500, 'the lease took capacity from the offer')

    const w = await contract(t, b, m, [trade], { 'main.js': code })
    const id = workloadId({ id: trade } as never)
    const exited = nodeTransition(n, id, ended)
    await settle(b, trade, w, m)
    const tr = await exited
    t.is(tr.state, 'exited', tr.reason)
    t.alike(tr.stdout, blake('done\n'), 'stdout digest')
    t.alike(tr.output, blake('answer 42\n'), 'output digest')

    await n.status.flush()
    const r = await readCore<StatusRecord>(n.status.status, n.identity.publicKey, 'status')
    const mine = r.records.filter((x) => x.body.workload === id).map((x) => x.body.state)
    // 'verifying' twice when the node saw the settle before it was final (waiting), then checked the contract.
    t.alike(
      mine.filter((s, i) => s !== mine[i - 1]),
      ['verifying', 'starting', 'running', 'exited'],
      'the status core recorded every transition'
    )
    t.is(r.records.find((x) => x.body.state === 'exited')?.body.trade, trade)
  }
)

sandboxTest('a service starts, is killed from outside, and restarts', async (t) => {
  const { b, n } = await nodeScene(t)
  const code = 'setInterval(() => {}, 1000)'
  const m = manifest(
    workload({ kind: 'service', restart: 'always', files: [await fileOf(t, 'main.js', code)] })
  )
  const trade = await buy(b, m)
  const w = await contract(t, b, m, [trade], { 'main.js': code })
  const id = workloadId({ id: trade } as never)
  const running = nodeTransition(n, id, (tr) => tr.state === 'running')
  await settle(b, trade, w, m)
  const pid = (await running).pid as number
  const again = nodeTransition(n, id, (tr) => tr.state === 'running' && tr.restarts === 1)
  process.kill(pid, 'SIGKILL')
  const tr = await again
  t.ok(tr.pid !== null && tr.pid !== pid, `restarted as ${String(tr.pid)} after ${pid} was killed`)
})

sandboxTest(
  "the offer's capacity goes down when a lease starts and back up when it stops",
  async (t) => {
    const { net, b, n } = await nodeScene(t)
    const me = keyOf(n)
    const code = 'setInterval(() => {}, 1000)'
    const m = manifest(workload({ kind: 'service', files: [await fileOf(t, 'main.js', code)] }))
    const trade = await buy(b, m)
    t.is((await b.peer.client.offer(me))?.available.cpu, 500, 'down while leased')
    const w = await contract(t, b, m, [trade], { 'main.js': code })
    const id = workloadId({ id: trade } as never)
    const running = nodeTransition(n, id, (tr) => tr.state === 'running')
    await settle(b, trade, w, m)
    await running
    const stopped = nodeTransition(n, id, (tr) => tr.state === 'stopped')
    const [closed] = await b.peer.client.submitAndWait(
      [{ type: 'close', body: { trade, reason: 'done' } }],
      { final: false }
    )
    t.ok(closed.accepted, 'the bot closed the lease')
    const s = await stopped
    t.ok(/closed/.test(s.reason), `stopped: ${s.reason}`)
    t.is((await b.peer.client.offer(me))?.available.cpu, 1000, 'back up once the lease ended')
    if (n.presence.record.free.cpu !== 1000) {
      await new Promise<void>((resolve) =>
        n.presence.on('published', (r: { free: { cpu: number } }) => {
          if (r.free.cpu === 1000) resolve()
        })
      )
    }
    const found = await lookupPresence(net.createNode(), n.identity.publicKey, {
      minSeq: n.presence.seq
    })
    t.is(found?.record.free.cpu, 1000, 'the DHT presence shows the free capacity too')
  }
)

sandboxTest('an update replaces the running version only after the new one verifies', async (t) => {
  const { b, n } = await nodeScene(t)
  const v1 = 'console.log("v1"); setInterval(() => {}, 1000)'
  const v2 = 'console.log("v2"); setInterval(() => {}, 1000)'
  const m1 = manifest(workload({ kind: 'service', files: [await fileOf(t, 'main.js', v1)] }))
  const trade = await buy(b, m1)
  const w = await contract(t, b, m1, [trade], { 'main.js': v1 })
  const id = workloadId({ id: trade } as never)
  const said = (text: string): Promise<void> =>
    new Promise((resolve) =>
      n.supervisor.on('log', (e) => {
        if (e.id === id && e.data.toString().includes(text)) resolve()
      })
    )
  const first = said('v1')
  await settle(b, trade, w, m1)
  await first

  const m2 = manifest(workload({ kind: 'service', files: [await fileOf(t, 'main.js', v2)] }))
  const src = `${await t.tmp()}/main.js`
  fs.writeFileSync(src, v2)
  const ref = await w.writer.appendFile(src, { workload: 'main', path: 'main.js' })
  const stopped = nodeTransition(n, id, (tr) => tr.state === 'stopped')
  const second = said('v2')
  await w.writer.appendInstruction({ action: 'update', manifest: m2, files: [ref] })
  t.ok(/update/.test((await stopped).reason), 'v1 stopped for the update')
  await second
  t.is(n.supervisor.get(id)?.state, 'running', 'v2 runs')
})
