import fs from 'fs'
import path from 'path'
import Corestore from 'corestore'
import { testnet } from './helpers/net'
import { peerBot, workload, manifest, buy, contract, settle, fileOf } from './helpers/node-bot'
import { startNode, stopNode, sellingNode, callHome, serviceKey } from './helpers/node-process'
import { sandboxTest } from './helpers/sandbox'
import { loadIdentity } from '../lib/identity'
import { workloadId } from '../lib/trade-workload'
import { scanState, readFile } from '../lib/state-core'
import { MiB, ZERO } from '../lib/resources'

// A service that counts its starts in data.json (its declared state) and says "start N" to whoever connects.
const COUNTER =
  'const fs = require("fs"); let n = 0; try { n = JSON.parse(fs.readFileSync("data.json", "utf8")).n } catch {}; n++; fs.writeFileSync("data.json.tmp", JSON.stringify({ n })); fs.renameSync("data.json.tmp", "data.json"); require("net").createServer(s => { s.on("error", () => {}); s.write("start " + n) }).listen(Number(process.env.PORT), "127.0.0.1"); setInterval(() => {}, 1000)'

sandboxTest(
  'a node killed with SIGKILL and restarted on its data dir resumes its own state core: the service goes on from its data, nothing is restored from elsewhere',
  async (t) => {
    const net = await testnet(t)
    const b = await peerBot(t, net)
    const home = await callHome(t, net, b.identity) // workloads have no network: the test calls the service through the DHT
    const first = await sellingNode(t, net, b.peer)
    const { data, args } = first
    const m = manifest(
      workload({
        kind: 'service',
        restart: 'always',
        ports: [8080],
        files: [await fileOf(t, 'main.js', COUNTER)],
        state: { paths: ['data.json'], interval: 100 },
        resources: { ...ZERO, cpu: 500, memory: 256 * MiB, ssd: 16 * MiB }
      })
    )
    const trade = await buy(b, m)
    const w = await contract(t, b, m, [trade], { 'main.js': COUNTER })
    await settle(b, trade, w, m)
    home.watch(serviceKey(data, trade, 8080))
    await home.count(1)
    t.is(home.hellos[0], 'start 1', 'the service started once')

    first.child.kill('SIGKILL')
    home.dropped()
    await first.exited
    const again = await startNode(t, args)
    await home.count(2)
    t.is(home.hellos[1], 'start 2', 'after the kill, the restarted node runs it on from its data')
    t.alike(await stopNode(again), { code: 0, signal: null }, 'a clean stop')

    // The node's own state core, read as anyone would: every snapshot signed by the node, in one sequence.
    const store = new Corestore(path.join(data, 'corestore'))
    t.teardown(() => store.close())
    const core = store.namespace('scit/node').get({ name: `state/${workloadId({ id: trade })}` })
    await core.ready()
    const scan = await scanState(core, 0, {
      node: loadIdentity(data).publicKey,
      contract: w.writer.key,
      replica: workloadId({ id: trade })
    })
    const seqs = scan.snapshots.map((s) => s.snapshot.seq)
    t.ok(
      seqs.length >= 1 && seqs.every((s, i) => s === i + 1),
      `one core, one sequence across the kill: snapshots ${seqs.join(', ')}`
    )
    const last = scan.snapshots[scan.snapshots.length - 1]?.snapshot
    const out = path.join(await t.tmp(), 'data.json')
    if (last) await readFile(core, last.files[0], out)
    t.alike(
      JSON.parse(fs.readFileSync(out, 'utf8')),
      { n: 2 },
      'its last snapshot, from the clean stop, holds the data as the service left it'
    )
    t.is(
      w.writer.view.instructions.flatMap((i) => i.restore).length,
      0,
      'and no restore was ever signed'
    )
  }
)
