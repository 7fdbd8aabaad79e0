import test from 'brittle'
import fs from 'fs'
import path from 'path'
import c from 'compact-encoding'
import { testnet } from './helpers/net'
import { market, peer, addIndexer, offered } from './helpers/ledger'
import {
  peerBot,
  node,
  workload,
  manifest,
  buy,
  contract,
  settle,
  fileOf,
  keyOf,
  nodeTransition,
  ended,
  recorded,
  records,
  TestBot,
  nodeScene,
  NodeScene
} from './helpers/node-bot'
import { tmpDir, gone } from './helpers/node'
import { generateKeyPair } from '../lib/identity'
import { seal } from '../lib/envelope'
import {
  instructionEncoding,
  headerEncoding,
  manifestHash,
  signManifest,
  Manifest,
  BlobRef
} from '../lib/contract'
import { checkTrade, stagedFile, placeFiles, Verified } from '../node/contracts'
import b4a from 'b4a'
import { workloadId } from '../lib/trade-workload'
import { summarize } from '../node/status'
import { isScitError } from '../lib/errors'
import { ZERO, MiB } from '../lib/resources'
import type { Trade } from '../market/types'

import type { Transition } from '../node/workload'
import type { Testnet } from '../lib/testnet'
import { sandboxTest } from './helpers/sandbox'

const CODE = 'console.log("ran")'

type Scene = NodeScene

function scene(t: test.Assert): Promise<Scene> {
  return nodeScene(t)
}

/** Settle `trade` with `writer`'s core and wait for the node to refuse it; asserts nothing ran. */
async function refused(
  t: test.Assert,
  s: Scene,
  trade: string,
  writer: { key: Buffer },
  m: Manifest
): Promise<string> {
  const id = workloadId({ id: trade } as Trade)
  const seen: string[] = []
  const done = new Promise<Transition>((resolve) =>
    s.n.supervisor.on('transition', (tr: Transition) => {
      if (tr.id !== id) return
      seen.push(tr.state)
      if (tr.state === 'refused') resolve(tr)
    })
  )
  await s.b.peer.client.submitAndWait(
    [{ type: 'settle', body: { trade, contract: writer.key, manifest: manifestHash(m) } }],
    { final: false }
  )
  const tr = await done
  // 'verifying' twice when the node saw the settle before it was final: waiting for it, then checking the contract.
  t.alike([...new Set(seen)], ['verifying', 'refused'], `nothing ran: ${tr.reason}`)
  t.absent(fs.existsSync(s.n.supervisor.workDir(id)), 'no work dir was even created')
  const rec = await recorded(s.n, id, (r) => r.state === 'refused')
  t.is(rec.reason, tr.reason, 'the status core records why, for the bot and the explorer')
  t.is(rec.trade, trade)
  return tr.reason
}

async function simple(t: test.Assert): Promise<Manifest> {
  return manifest(workload({ files: [await fileOf(t, 'main.js', CODE)] }))
}

sandboxTest("a contract core written by another key than the trade's bot is refused", async (t) => {
  const s = await scene(t)
  const m = await simple(t)
  const trade = await buy(s.b, m)
  const mallory = { ...s.b, identity: generateKeyPair() }
  const w = await contract(t, mallory, m, [trade], { 'main.js': CODE })
  t.ok((await refused(t, s, trade, w.writer, m)).startsWith('wrong-bot'))
})

/** A deploy instruction's body for `m` with `files`, to seal by hand. */
function deployBody(m: Manifest, files: BlobRef[]): Buffer {
  return c.encode(instructionEncoding, {
    action: 'deploy',
    manifestHash: manifestHash(m),
    manifest: null,
    files,
    scale: [],
    trades: [],
    reason: '',
    grant: null,
    restore: []
  })
}

sandboxTest('an instruction signed by someone else than the bot is refused', async (t) => {
  const s = await scene(t)
  const m = await simple(t)
  const trade = await buy(s.b, m)
  const w = await contract(t, s.b, m, [trade], { 'main.js': CODE }, { deploy: false })
  const body = deployBody(m, w.refs)
  await w.writer.core.append(
    seal(generateKeyPair(), { type: 'instruction', seq: 1, timestamp: Date.now(), body })
  )
  t.ok((await refused(t, s, trade, w.writer, m)).startsWith('foreign-author'))
})

sandboxTest('an instruction out of sequence is refused', async (t) => {
  const s = await scene(t)
  const m = await simple(t)
  const trade = await buy(s.b, m)
  const w = await contract(t, s.b, m, [trade], { 'main.js': CODE }, { deploy: false })
  const body = deployBody(m, w.refs)
  await w.writer.core.append(
    seal(s.b.identity, { type: 'instruction', seq: 2, timestamp: Date.now(), body })
  )
  t.ok((await refused(t, s, trade, w.writer, m)).startsWith('seq-gap'))
})

sandboxTest('a file whose bytes differ from its hash is refused', async (t) => {
  const s = await scene(t)
  const m = await simple(t)
  const trade = await buy(s.b, m)
  const evil = CODE.replace('ran', 'pwn') // same size, other bytes
  const w = await contract(t, s.b, m, [trade], { 'main.js': evil }, { deploy: false })
  const forged = w.refs.map((r) => ({ ...r, hash: m.workloads[0].files[0].hash }))
  await w.writer.appendInstruction({ action: 'deploy', files: forged })
  t.ok((await refused(t, s, trade, w.writer, m)).startsWith('file-hash-mismatch'))
})

sandboxTest(
  'a contract below its stakeholder threshold waits for its approvals: verifying, never refused, nothing runs',
  async (t) => {
    const s = await scene(t)
    const legal = generateKeyPair()
    const budget = generateKeyPair()
    const m = manifest(workload({ files: [await fileOf(t, 'main.js', CODE)] }), {
      stakeholders: {
        threshold: 2,
        signers: [
          { key: legal.publicKey, role: 'legal', weight: 1 },
          { key: budget.publicKey, role: 'budget', weight: 1 }
        ]
      }
    })
    const trade = await buy(s.b, m)
    const w = await contract(t, s.b, m, [trade], { 'main.js': CODE }, { deploy: false })
    await w.writer.appendApproval(signManifest(legal, manifestHash(m), 'legal'))
    await w.writer.appendInstruction({ action: 'deploy', files: w.refs })
    const id = workloadId({ id: trade })
    const seen: string[] = []
    s.n.supervisor.on('transition', (tr: Transition) => {
      if (tr.id === id) seen.push(tr.state)
    })
    await s.b.peer.client.submitAndWait(
      [{ type: 'settle', body: { trade, contract: w.writer.key, manifest: manifestHash(m) } }],
      { final: false }
    )
    // a passing reason: 'refused' would make its bot replace a lease that runs once the last stakeholder signs
    const rec = await recorded(s.n, id, (r) => r.reason.startsWith('threshold-not-reached'))
    t.is(rec.state, 'verifying', rec.reason)
    t.alike([...new Set(seen)], ['verifying'], 'never refused, nothing ran')
    t.absent(fs.existsSync(s.n.supervisor.workDir(id)), 'no work dir')
  }
)

test("a trade that is not final, not settled or not this node's is never acted on", (t) => {
  const trade = { id: 'b.0', node: 'me', state: 'settled', contract: 'k', manifest: 'h' } as Trade
  const reason = (fn: () => unknown): string => {
    try {
      fn()
      return 'accepted'
    } catch (err) {
      return isScitError(err, 'VERIFICATION')
        ? (err as unknown as { reason: string }).reason
        : 'other'
    }
  }
  t.is(
    reason(() => checkTrade(null, 'me')),
    'not-final'
  )
  t.is(
    reason(() => checkTrade({ ...trade, node: 'other' }, 'me')),
    'wrong-node'
  )
  t.is(
    reason(() => checkTrade({ ...trade, state: 'matched', contract: null }, 'me')),
    'not-settled'
  )
  t.is(
    reason(() => checkTrade({ ...trade, manifest: null }, 'me')),
    'not-settled',
    'settled without a manifest hash'
  )
  t.is(checkTrade(trade, 'me'), trade)
})

/** A market of three indexers (its founder, the faucet, is the bot); b and c can be stopped and b started again on its data. */
async function quorum(
  t: test.Assert,
  net: Testnet
): Promise<{ bot: TestBot; restartB: () => Promise<void>; stopBC: () => Promise<void> }> {
  const a = await market(t, net)
  const bData = await t.tmp()
  const bIdentity = generateKeyPair()
  const b = await peer(t, net, { market: a.key, data: bData, identity: bIdentity })
  const c = await peer(t, net, { market: a.key })
  await addIndexer([a], b)
  await addIndexer([a, b], c)
  const identity = a.identity ?? generateKeyPair()
  const [dep] = await a.client.submitAndWait([
    { type: 'deposit', body: { to: identity.publicKey, amount: 1_000_000_000 } }
  ])
  if (!dep.accepted) throw new Error('deposit refused')
  return {
    bot: { peer: a, identity },
    stopBC: async () => {
      await b.close()
      await c.close()
    },
    restartB: async () => {
      await peer(t, net, { market: a.key, data: bData, identity: bIdentity })
    }
  }
}

sandboxTest(
  'a settled trade that is not final does not run until the indexers order it: the node reads only what a quorum signed',
  async (t) => {
    const net = await testnet(t)
    const q = await quorum(t, net)
    const n = await node(t, net, q.bot)
    await offered(q.bot.peer, keyOf(n))
    await q.stopBC() // one indexer of three: nothing new becomes final

    const m = await simple(t)
    const trade = await buy(q.bot, m)
    const w = await contract(t, q.bot, m, [trade], { 'main.js': CODE })
    const id = workloadId({ id: trade })
    let quorumBack = false
    const seen: string[] = []
    let startedWithQuorum: boolean | null = null
    n.supervisor.on('transition', (tr: Transition) => {
      if (tr.id !== id) return
      seen.push(tr.state)
      if (tr.state === 'starting' && startedWithQuorum === null) startedWithQuorum = quorumBack
    })
    await settle(q.bot, trade, w, m)
    t.ok(
      (await q.bot.peer.client.trade(trade))?.state === 'settled',
      "the bot's own peer applied the settlement"
    )
    t.is(
      await n.peer.client.trade(trade),
      null,
      'the node, a follower, does not see the trade: no quorum signed it'
    )
    t.alike(seen, [], 'nothing ran')
    t.absent(fs.existsSync(n.supervisor.workDir(id)), 'no work dir')

    const ran = nodeTransition(n, id, ended)
    quorumBack = true
    await q.restartB()
    const tr = await ran
    t.is(tr.state, 'exited', tr.reason)
    t.is(
      startedWithQuorum,
      true,
      'it started only once a quorum was back to make the settlement final'
    )
  }
)

sandboxTest(
  "a trade whose contract core names another node's trade is refused, and nothing runs",
  async (t) => {
    const s = await scene(t)
    const cheap = await node(t, s.net, s.b, { prices: { ...ZERO, cpu: 1, memory: 1 } })
    await offered(s.b.peer, keyOf(cheap))
    const m = manifest(
      workload({
        files: [await fileOf(t, 'main.js', CODE)],
        resources: { ...ZERO, cpu: 1000, memory: 512 * MiB }
      })
    )
    const theirs = await buy(s.b, m) // the cheaper node first, and all of it
    const mine = await buy(s.b, m)
    t.is(
      (await s.b.peer.client.trade(theirs))?.node,
      keyOf(cheap),
      "the contract's trade is the other node's"
    )
    t.is((await s.b.peer.client.trade(mine))?.node, keyOf(s.n), "this node's trade")
    const w = await contract(t, s.b, m, [theirs], { 'main.js': CODE })
    const reason = await refused(t, s, mine, w.writer, m)
    t.ok(reason.startsWith('wrong-node') && reason.includes(theirs), reason)
    t.alike(
      cheap.supervisor.list(),
      [],
      'the other node runs nothing either: its trade is not settled'
    )
  }
)

sandboxTest(
  'a staged file altered on disk between runs is re-verified and refused on restart: nothing runs',
  async (t) => {
    const net = await testnet(t)
    const b = await peerBot(t, net)
    const data = await t.tmp()
    const workloads = path.join(await tmpDir(t), 'workloads')
    const first = await node(t, net, b, { data, workloads })
    await offered(b.peer, keyOf(first))
    const code = 'setInterval(() => {}, 1000)'
    const m = manifest(workload({ kind: 'service', files: [await fileOf(t, 'main.js', code)] }))
    const trade = await buy(b, m)
    const w = await contract(t, b, m, [trade], { 'main.js': code })
    const id = workloadId({ id: trade })
    const running = nodeTransition(first, id, (tr) => tr.state === 'running')
    await settle(b, trade, w, m)
    await running
    await first.close()

    const staged = stagedFile(path.join(data, 'files', id), m.workloads[0].files[0].hash)
    t.is(fs.readFileSync(staged, 'utf8'), code, 'the verified copy is staged under its hash')
    fs.writeFileSync(staged, code.replace('1000', '9999')) // same size, other bytes

    const second = await node(t, net, b, { data, workloads })
    const rec = await recorded(second, id, (r) => r.state === 'refused')
    t.ok(rec.reason.startsWith('file-hash-mismatch') && rec.reason.includes('altered'), rec.reason)
    t.is(second.supervisor.get(id), null, 'never started')
    const history = (await records(second, id)).map((r) => r.state)
    const restart = history.lastIndexOf('stopped') + 1
    t.is(history[restart - 1], 'stopped', "the first run ended with the node's shutdown")
    t.alike(
      [...new Set(history.slice(restart))],
      ['verifying', 'refused'],
      `nothing ran after the restart: ${history.join(', ')}`
    )
    t.is(
      fs.readFileSync(staged, 'utf8'),
      code.replace('1000', '9999'),
      'and it was not silently fetched again'
    )
  }
)

sandboxTest(
  'an update whose files fail verification leaves the old version running; the status core records the refused update, not a refused workload',
  async (t) => {
    const s = await scene(t)
    const v1 = 'console.log("v1"); setInterval(() => {}, 1000)'
    const v2 = 'console.log("v2"); setInterval(() => {}, 1000)'
    const m1 = manifest(workload({ kind: 'service', files: [await fileOf(t, 'main.js', v1)] }))
    const trade = await buy(s.b, m1)
    const w = await contract(t, s.b, m1, [trade], { 'main.js': v1 })
    const id = workloadId({ id: trade })
    const running = nodeTransition(s.n, id, (tr) => tr.state === 'running')
    await settle(s.b, trade, w, m1)
    const pid = (await running).pid as number

    // v2 as the manifest says, but other bytes (same size) on the core under a reference that claims v2's hash.
    const m2 = manifest(workload({ kind: 'service', files: [await fileOf(t, 'main.js', v2)] }))
    const src = path.join(await t.tmp(), 'main.js')
    fs.writeFileSync(src, v2.replace('v2', 'XX'))
    const ref = await w.writer.appendFile(src, { workload: 'main', path: 'main.js' })
    const after: string[] = []
    s.n.supervisor.on('transition', (tr: Transition) => {
      if (tr.id === id) after.push(tr.state)
    })
    const refusal = recorded(s.n, id, (r) => r.reason.includes('update'))
    await w.writer.appendInstruction({
      action: 'update',
      manifest: m2,
      files: [{ ...ref, hash: m2.workloads[0].files[0].hash }]
    })
    const rec = await refusal
    t.is(rec.state, 'running', `recorded in its running state: ${rec.reason}`)
    t.ok(
      /^update to instruction \d+ refused/.test(rec.reason) &&
        rec.reason.includes('file-hash-mismatch'),
      'the reason names the refused update'
    )
    t.absent(
      after.includes('refused') || after.includes('stopped'),
      `the workload itself was neither refused nor stopped: ${after.join(', ')}`
    )
    t.is(s.n.supervisor.get(id)?.pid, pid, 'the same v1 process')
    t.absent(gone(pid), 'still alive')
    const [view] = summarize(
      (await records(s.n, id)).map((body, index) => ({ index, timestamp: 0, body }))
    )
    t.is(view.state, 'running', 'a bot or explorer summing up the status core sees it running')
    t.absent(
      (await records(s.n, id)).some((r) => r.state === 'refused'),
      'no refused record for the workload'
    )
  }
)

sandboxTest(
  'a contract whose manifest names files that leave the work dir, or land on one file, is refused by the node before it writes anything',
  async (t) => {
    const s = await scene(t)
    for (const names of [['../../escape.js'], ['main.js', 'Main.js']]) {
      const files = await Promise.all(names.map((n) => fileOf(t, n, CODE)))
      const m = manifest(workload({ files }))
      const trade = await buy(s.b, m)
      // what a hostile bot writes: its own writer would refuse this header
      const core = (s.b.peer.store as NonNullable<typeof s.b.peer.store>).get({
        name: `forged-${trade}`
      })
      await core.ready()
      t.teardown(() => core.close())
      const header = { core: core.key, manifestHash: manifestHash(m), manifest: m, trades: [trade] }
      await core.append(
        seal(s.b.identity, {
          type: 'contract-header',
          seq: 0,
          timestamp: Date.now(),
          body: c.encode(headerEncoding, header)
        })
      )
      const why = await refused(t, s, trade, core, m)
      t.ok(why.startsWith('bad-manifest'), why)
    }
  }
)

test('placeFiles refuses a file name that leaves the work dir even if the manifest check missed it', async (t) => {
  const base = await t.tmp()
  const workDir = path.join(base, 'work', 'w1')
  const v = {
    workload: { files: [{ path: '../../escape.js', size: 1, hash: b4a.alloc(32) }] }
  } as unknown as Verified
  await t.exception(
    placeFiles(v, path.join(base, 'staging'), workDir),
    /bad-manifest: file path "..\/..\/escape.js" would leave the work dir/
  )
  t.alike(fs.readdirSync(base), [], 'nothing written, not even the work dir')
})
