import fs from 'fs'
import path from 'path'
import { testnet } from './helpers/net'
import { peerBot, workload, manifest, buy, contract, settle, fileOf } from './helpers/node-bot'
import { startNode, sellingNode, callHome, serviceKey, HELLO } from './helpers/node-process'
import { workloadId } from '../lib/trade-workload'
import { stagedFile } from '../node/contracts'
import { sandboxTest } from './helpers/sandbox'

sandboxTest(
  'after kill -9 and a restart on the same data dir, the service runs again and no file is fetched twice',
  async (t) => {
    const tn = await testnet(t)
    const b = await peerBot(t, tn)
    // The test calls the service through the DHT after every start: it waits on sessions, never on time.
    const home = await callHome(t, tn, b.identity)
    const first = await sellingNode(t, tn, b.peer)
    const { data, args } = first

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
    home.dropped()
    await first.exited
    await startNode(t, args)
    await home.count(2)
    t.is(home.hellos.length, 2, 'the service ran again after the restart')
    const after = fs.statSync(staged)
    t.is(after.ino, before.ino, 'the staged file is the same file')
    t.is(after.mtimeMs, before.mtimeMs, 'and was not written again')
  }
)
