import fs from 'fs'
import path from 'path'
import { testnet } from './helpers/net'
import { until } from './helpers/ledger'
import { bot, workload, manifest, buy, contract, settle, fileOf } from './helpers/node-bot'
import { tmpDir } from './helpers/node'
import { startNode, nodeArgs, callHome, serviceKey, HELLO } from './helpers/node-process'
import { loadIdentity } from '../lib/identity'
import { encodeKey } from '../lib/keys'
import { workloadId } from '../lib/trade-workload'
import { stagedFile } from '../node/contracts'
import { sandboxTest } from './helpers/sandbox'

sandboxTest(
  'after kill -9 and a restart on the same data dir, the service runs again and no file is fetched twice',
  async (t) => {
    const tn = await testnet(t)
    const b = await bot(t, tn)
    // The test calls the service through the DHT after every start: it waits on sessions, never on time.
    const home = await callHome(t, tn, b.identity)
    const data = await t.tmp()
    const key = encodeKey(loadIdentity(data).publicKey)
    const args = nodeArgs(data, b.peer.key, tn, path.join(await tmpDir(t), 'workloads'))
    const first = await startNode(t, args)
    await until(b.peer, async () => (await b.peer.client.offer(key)) !== null)

    const m = manifest(
      workload({ kind: 'service', ports: [8080], files: [await fileOf(t, 'main.js', HELLO)] })
    )
    const trade = await buy(b, m)
    home.watch(serviceKey(data, trade, 8080))
    const w = await contract(t, b, m, [trade], { 'main.js': HELLO })
    await settle(b, trade, w, m)
    await home.count(1)
    const staged = stagedFile(
      path.join(data, 'files', workloadId({ id: trade })),
      m.workloads[0].files[0].hash
    )
    const before = fs.statSync(staged)

    first.child.kill('SIGKILL')
    await first.exited
    await startNode(t, args)
    await home.count(2)
    t.is(home.hellos.length, 2, 'the service ran again after the restart')
    const after = fs.statSync(staged)
    t.is(after.ino, before.ino, 'the staged file is the same file')
    t.is(after.mtimeMs, before.mtimeMs, 'and was not written again')
  }
)
