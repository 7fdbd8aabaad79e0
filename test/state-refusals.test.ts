import fs from 'fs'
import path from 'path'
import c from 'compact-encoding'
import type { Assert } from 'brittle'
import { testnet } from './helpers/net'
import {
  peerBot,
  node,
  workload,
  manifest,
  fileOf,
  contract,
  settle,
  recorded,
  keyOf,
  HOUR,
  TestBot,
  Written
} from './helpers/node-bot'
import { sandboxTest } from './helpers/sandbox'
import { generateKeyPair, KeyPair } from '../lib/identity'
import { seal } from '../lib/envelope'
import { workloadId } from '../lib/trade-workload'
import { hashFile, RestoreRef, Manifest } from '../lib/contract'
import { stateHash, snapshotEncoding, Snapshot } from '../lib/state-core'
import { planBids } from '../bot/manifest'
import { StateKeeper } from '../node/state-keeper'
import type { NodeDaemon } from '../node/daemon'
import { MiB, ZERO } from '../lib/resources'
import safetyCatch from 'safety-catch'

const CODE = 'setInterval(() => {}, 1000)\n'

interface Setup {
  tb: TestBot
  a: NodeDaemon
  b: NodeDaemon
  m: Manifest
  written: Written
  t1: string
}

/** A service with state runs on node a (trade t1); node b is up and sells the same. */
async function setup(t: Assert): Promise<Setup> {
  const net = await testnet(t)
  const tb = await peerBot(t, net)
  const a = await node(t, net, tb)
  const w = workload({
    kind: 'service',
    restart: 'always',
    files: [await fileOf(t, 'main.js', CODE)],
    state: { paths: ['data.json'], interval: 200 },
    resources: { ...ZERO, cpu: 500, memory: 256 * MiB, ssd: 16 * MiB }
  })
  const m = manifest(w)
  const t1 = await buyOn(tb, m, [])
  const written = await contract(t, tb, m, [t1], { 'main.js': CODE })
  await settle(tb, t1, written, m)
  await recorded(a, workloadId({ id: t1 }), (r) => r.state === 'running')
  const b = await node(t, net, tb)
  return { tb, a, b, m, written, t1 }
}

async function buyOn(tb: TestBot, m: Manifest, exclude: string[]): Promise<string> {
  const [{ body }] = planBids(m, { expiry: Date.now() + HOUR, exclude })
  const [o] = await tb.peer.client.submitAndWait([{ type: 'bid', body }], { final: false })
  if (!o.accepted || o.trades.length === 0) throw new Error(`bid not matched: ${o.reason ?? ''}`)
  return o.trades[0]
}

/** A state core in the test bot's store holding a real snapshot of `content`, signed by `signer`. */
async function stateCore(
  t: Assert,
  s: Setup,
  signer: KeyPair,
  content: string
): Promise<StateKeeper> {
  const dir = await t.tmp()
  fs.writeFileSync(path.join(dir, 'data.json'), content)
  const store = s.tb.peer.store
  if (!store) throw new Error('the test bot has no store')
  const k = new StateKeeper(store.namespace(`forged-${Math.random()}`), signer, {
    id: workloadId({ id: s.t1 }),
    contract: s.written.writer.key,
    spec: { paths: ['data.json'], interval: 60_000 },
    limit: MiB,
    workDir: dir,
    staging: await t.tmp()
  })
  await k.open()
  await k.snapshot()
  t.teardown(() => k.close(false).catch(safetyCatch), { order: -5 })
  return k
}

/** Replace t1 by a trade on node b that the contract says starts from `ref` (its trade filled in); resolves with b's refusal. */
async function replaceWith(
  s: Setup,
  ref: Omit<RestoreRef, 'trade'>
): Promise<{ reason: string; id: string }> {
  const t2 = await buyOn(s.tb, s.m, [keyOf(s.a)])
  await s.written.writer.appendInstruction({
    action: 'scale',
    scale: [{ workload: 'main', replicas: 1 }],
    trades: [t2],
    restore: [{ ...ref, trade: t2 }]
  })
  await settle(s.tb, t2, s.written, s.m)
  const id = workloadId({ id: t2 })
  const r = await recorded(s.b, id, (x) => x.state === 'refused' || x.state === 'running')
  return { reason: `${r.state}: ${r.reason}`, id }
}

sandboxTest(
  "a snapshot signed by a key that is not the replica's node is refused by the new node, and nothing runs from it",
  async (t) => {
    const s = await setup(t)
    const forger = generateKeyPair()
    const k = await stateCore(t, s, forger, '[{"id":"x","name":"Mallory"}]')
    const last = k.last
    if (last === null) return t.fail('no snapshot written')
    const { reason, id } = await replaceWith(s, {
      from: s.t1,
      node: s.a.identity.publicKey,
      core: k.key,
      length: k.core.length,
      seq: last.snapshot.seq,
      hash: last.snapshot.hash
    })
    t.ok(/^refused: .*bad-snapshot: .*not by the replica's node/.test(reason), reason)
    t.not(s.b.supervisor.get(id)?.state, 'running', 'the service does not run')
    t.absent(
      fs.existsSync(path.join(s.b.supervisor.workDir(id), 'data.json')),
      'no restored file is in its work dir'
    )

    // naming the forger as the node does not help: the ledger says who ran the old trade
    const named = await replaceWith(s, {
      from: s.t1,
      node: forger.publicKey,
      core: k.key,
      length: k.core.length,
      seq: last.snapshot.seq,
      hash: last.snapshot.hash
    })
    t.ok(/^refused: .*did not run for this contract/.test(named.reason), named.reason)
  }
)

sandboxTest(
  'a snapshot whose file does not hash to its signed hash is refused by the new node, and nothing runs from it',
  async (t) => {
    const s = await setup(t)
    const k = await stateCore(t, s, s.a.identity, '[{"id":"1","name":"Ada"}]')
    const first = k.last
    if (first === null) return t.fail('no snapshot written')
    // the old node's own key signs a second snapshot whose file points at the first's bytes with another hash
    const other = path.join(await t.tmp(), 'other')
    fs.writeFileSync(other, '[{"id":"1","name":"Eve"}]')
    const f = { ...first.snapshot.files[0], ...(await hashFile(other)) }
    const body: Snapshot = {
      ...first.snapshot,
      seq: 2,
      files: [f],
      appended: 0,
      hash: stateHash([f])
    }
    await k.core.append(
      seal(s.a.identity, {
        type: 'snapshot',
        seq: 2,
        timestamp: Date.now(),
        body: c.encode(snapshotEncoding, body)
      })
    )
    const { reason, id } = await replaceWith(s, {
      from: s.t1,
      node: s.a.identity.publicKey,
      core: k.key,
      length: k.core.length,
      seq: 2,
      hash: body.hash
    })
    t.ok(/^refused: .*snapshot-mismatch: data\.json/.test(reason), reason)
    t.not(s.b.supervisor.get(id)?.state, 'running', 'the service does not run')
    t.absent(
      fs.existsSync(path.join(s.b.supervisor.workDir(id), 'data.json')),
      'no restored file is in its work dir'
    )
  }
)
