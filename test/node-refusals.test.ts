import test from 'brittle'
import fs from 'fs'
import b4a from 'b4a'
import c from 'compact-encoding'
import { testnet } from './helpers/net'
import { until } from './helpers/ledger'
import { bot, node, workload, manifest, buy, contract, fileOf, keyOf, TestBot } from './helpers/node-bot'
import { generateKeyPair } from '../lib/identity'
import { seal } from '../lib/envelope'
import { instructionEncoding, manifestHash, signManifest, Manifest } from '../lib/contract'
import { ContractWriter } from '../bot/notary'
import { checkTrade, workloadId } from '../node/contracts'
import { isScitError } from '../lib/errors'
import type { Trade } from '../market/types'
import type { NodeDaemon } from '../node/daemon'
import type { Transition } from '../node/workload'
import type { Testnet } from '../lib/testnet'

const CODE = 'console.log("ran")'

interface Scene { net: Testnet; b: TestBot; n: NodeDaemon }

async function scene (t: test.Assert): Promise<Scene> {
  const net = await testnet(t)
  const b = await bot(t, net)
  const n = await node(t, net, b)
  await until(b.peer, async () => (await b.peer.client.offer(keyOf(n))) !== null)
  return { net, b, n }
}

/** Settle `trade` with `writer`'s core and wait for the node to refuse it; asserts nothing ran. */
async function refused (t: test.Assert, s: Scene, trade: string, writer: ContractWriter, m: Manifest): Promise<string> {
  const id = workloadId({ id: trade } as Trade)
  const seen: string[] = []
  const done = new Promise<Transition>(resolve => s.n.supervisor.on('transition', (tr: Transition) => {
    if (tr.id !== id) return
    seen.push(tr.state)
    if (tr.state === 'refused') resolve(tr)
  }))
  await s.b.peer.client.submitAndWait([{ type: 'settle', body: { trade, contract: writer.key, manifest: manifestHash(m) } }], { final: false })
  const tr = await done
  t.alike(seen, ['verifying', 'refused'], `nothing ran: ${tr.reason}`)
  t.absent(fs.existsSync(s.n.supervisor.workDir(id)), 'no work dir was even created')
  return tr.reason
}

async function simple (t: test.Assert): Promise<Manifest> {
  return manifest(workload({ files: [await fileOf(t, 'main.js', CODE)] }))
}

test('a contract core written by another key than the trade\'s bot is refused', async t => {
  const s = await scene(t)
  const m = await simple(t)
  const trade = await buy(s.b, m)
  const mallory = { ...s.b, identity: generateKeyPair() }
  const w = await contract(t, mallory, m, [trade], { 'main.js': CODE })
  t.ok((await refused(t, s, trade, w.writer, m)).startsWith('wrong-bot'))
})

test('an instruction signed by someone else than the bot is refused', async t => {
  const s = await scene(t)
  const m = await simple(t)
  const trade = await buy(s.b, m)
  const w = await contract(t, s.b, m, [trade], { 'main.js': CODE }, { deploy: false })
  const body = c.encode(instructionEncoding, { action: 'deploy', manifestHash: manifestHash(m), manifest: null, files: w.refs, scale: [], trades: [], reason: '' })
  await w.writer.core.append(seal(generateKeyPair(), { type: 'instruction', seq: 1, timestamp: Date.now(), body }))
  t.ok((await refused(t, s, trade, w.writer, m)).startsWith('foreign-author'))
})

test('an instruction out of sequence is refused', async t => {
  const s = await scene(t)
  const m = await simple(t)
  const trade = await buy(s.b, m)
  const w = await contract(t, s.b, m, [trade], { 'main.js': CODE }, { deploy: false })
  const body = c.encode(instructionEncoding, { action: 'deploy', manifestHash: manifestHash(m), manifest: null, files: w.refs, scale: [], trades: [], reason: '' })
  await w.writer.core.append(seal(s.b.identity, { type: 'instruction', seq: 2, timestamp: Date.now(), body }))
  t.ok((await refused(t, s, trade, w.writer, m)).startsWith('seq-gap'))
})

test('a file whose bytes differ from its hash is refused', async t => {
  const s = await scene(t)
  const m = await simple(t)
  const trade = await buy(s.b, m)
  const evil = CODE.replace('ran', 'pwn') // same size, other bytes
  const w = await contract(t, s.b, m, [trade], { 'main.js': evil }, { deploy: false })
  const forged = w.refs.map(r => ({ ...r, hash: m.workloads[0].files[0].hash }))
  await w.writer.appendInstruction({ action: 'deploy', files: forged })
  t.ok((await refused(t, s, trade, w.writer, m)).startsWith('file-hash-mismatch'))
})

test('a contract below its stakeholder threshold is refused', async t => {
  const s = await scene(t)
  const legal = generateKeyPair()
  const budget = generateKeyPair()
  const m = manifest(workload({ files: [await fileOf(t, 'main.js', CODE)] }), {
    stakeholders: { threshold: 2, signers: [{ key: legal.publicKey, role: 'legal', weight: 1 }, { key: budget.publicKey, role: 'budget', weight: 1 }] }
  })
  const trade = await buy(s.b, m)
  const w = await contract(t, s.b, m, [trade], { 'main.js': CODE }, { deploy: false })
  await w.writer.appendApproval(signManifest(legal, manifestHash(m), 'legal'))
  await w.writer.appendInstruction({ action: 'deploy', files: w.refs })
  t.ok((await refused(t, s, trade, w.writer, m)).startsWith('threshold-not-reached'))
})

test('a trade that is not final, not settled or not this node\'s is never acted on', t => {
  const trade = { id: 'b.0', node: 'me', state: 'settled', contract: 'k', manifest: 'h' } as Trade
  const reason = (fn: () => unknown): string => {
    try { fn(); return 'accepted' } catch (err) { return isScitError(err, 'VERIFICATION') ? (err as unknown as { reason: string }).reason : 'other' }
  }
  t.is(reason(() => checkTrade(null, 'me')), 'not-final')
  t.is(reason(() => checkTrade({ ...trade, node: 'other' }, 'me')), 'wrong-node')
  t.is(reason(() => checkTrade({ ...trade, state: 'matched', contract: null }, 'me')), 'not-settled')
  t.is(checkTrade(trade, 'me'), trade)
  t.ok(b4a.isBuffer(generateKeyPair().publicKey))
})
