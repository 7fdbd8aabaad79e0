import test from 'brittle'
import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import c from 'compact-encoding'
import Corestore from 'corestore'
import type { Assert } from 'brittle'
import { generateKeyPair } from '../lib/identity'
import { seal, envelopeEncoding } from '../lib/envelope'
import { decodeExact } from '../lib/codec'
import {
  readContract,
  VerificationError,
  signManifest,
  headerEncoding,
  instructionEncoding,
  approvalEncoding,
  blobMarkerEncoding,
  manifestHash,
  Instruction
} from '../lib/contract'
import { loadTemplate } from '../bot/template'
import { instantiate, Instance } from '../bot/manifest'
import { ContractWriter } from '../bot/notary'
import { mayConnect } from '../lib/access'
import {
  EXAMPLES,
  store,
  writer,
  forge,
  deployAll,
  exampleStakeholder,
  minimalInstance
} from './helpers/bot'

const bot = generateKeyPair()
const mallory = generateKeyPair()

async function banking(): Promise<Instance> {
  return await instantiate(loadTemplate(path.join(EXAMPLES, 'banking-feature.yaml')))
}

function expect(
  w: ContractWriter,
  inst: Instance
): { coreKey: Buffer; botKey: Buffer; manifestHash: Buffer } {
  return { coreKey: w.key, botKey: bot.publicKey, manifestHash: inst.hash }
}

async function refused(t: Assert, p: Promise<unknown>, reason: string): Promise<void> {
  try {
    await p
    t.fail(`accepted, expected ${reason}`)
  } catch (err) {
    t.ok(err instanceof VerificationError, (err as Error).message)
    t.is((err as VerificationError).reason, reason)
    t.is((err as VerificationError).code, 'VERIFICATION')
    t.ok((err as Error).message.startsWith(reason + ':'), 'the reason starts the message')
  }
}

function noop(): Instruction {
  return {
    action: 'stop',
    manifestHash: b4a.alloc(32),
    manifest: null,
    files: [],
    scale: [],
    trades: [],
    reason: '',
    grant: null,
    restore: []
  }
}

test('a written contract reads back and verifies: header, files, instructions, approvals', async (t) => {
  const inst = await banking()
  const w = await writer(t, await store(t), bot)
  await w.writeHeader(inst.manifest, ['trade-1.0', 'trade-1.1'])
  await deployAll(w, inst)
  await w.appendApproval(signManifest(exampleStakeholder('legal'), inst.hash, 'legal'))
  await w.appendInstruction({ action: 'scale', scale: [{ workload: 'limits', replicas: 3 }] })

  const view = await readContract(w.core, expect(w, inst))
  t.alike(view.header?.trades, ['trade-1.0', 'trade-1.1'])
  t.ok(b4a.equals(view.manifestHash, inst.hash))
  t.alike(
    view.instructions.map((i) => [i.seq, i.action]),
    [
      [1, 'deploy'],
      [2, 'scale']
    ]
  )
  t.is(view.approvedWeight(), 1)
  const ref = view.instructions[0].files[0]
  const dest = path.join(await t.tmp(), 'feature.js')
  await view.fetchFile(ref, dest)
  t.ok(
    b4a.equals(
      fs.readFileSync(dest),
      fs.readFileSync(path.join(EXAMPLES, 'banking-feature', 'feature.js'))
    ),
    'the file arrives byte for byte'
  )
})

test('a replica of the core, read from another store, verifies and fetches files', async (t) => {
  const { inst } = await minimalInstance(t)
  const s1 = await store(t)
  const s2 = await store(t)
  const w = await writer(t, s1, bot)
  await w.writeHeader(inst.manifest)
  await deployAll(w, inst)
  const a = s1.replicate(true) as NodeJS.ReadWriteStream & { destroy(): void }
  const b = s2.replicate(false) as NodeJS.ReadWriteStream & { destroy(): void }
  a.pipe(b).pipe(a)
  t.teardown(
    () => {
      a.destroy()
      b.destroy()
    },
    { order: -1 }
  )
  const remote = s2.get({ key: w.key })
  await remote.ready()
  await remote.update({ wait: true })
  const view = await readContract(remote, {
    coreKey: w.key,
    botKey: bot.publicKey,
    manifestHash: inst.hash
  })
  t.is(view.instructions.length, 1)
  const dest = path.join(await t.tmp(), 'app.js')
  await view.fetchFile(view.instructions[0].files[0], dest)
  t.is(fs.readFileSync(dest, 'utf8'), 'console.log("hi")\n')
})

test('a forged header signature is refused', async (t) => {
  const { inst } = await minimalInstance(t)
  const w = await writer(t, await store(t), bot)
  const env = decodeExact(
    envelopeEncoding,
    seal(bot, {
      type: 'contract-header',
      seq: 0,
      timestamp: 1,
      body: c.encode(headerEncoding, {
        core: w.key,
        manifestHash: inst.hash,
        manifest: inst.manifest,
        trades: []
      })
    })
  )
  env.signature[0] ^= 1
  await w.core.append(c.encode(envelopeEncoding, env))
  await refused(t, readContract(w.core, expect(w, inst)), 'bad-header-signature')
})

test('a header by another bot, or naming another core, or another manifest is refused', async (t) => {
  const { inst } = await minimalInstance(t)
  const body = (core: Buffer): Buffer =>
    c.encode(headerEncoding, { core, manifestHash: inst.hash, manifest: inst.manifest, trades: [] })
  const w1 = await writer(t, await store(t), bot, 'a')
  await forge(w1, mallory, 'contract-header', 0, body(w1.key))
  await refused(t, readContract(w1.core, expect(w1, inst)), 'wrong-bot')
  const w2 = await writer(t, await store(t), bot, 'b')
  await forge(w2, bot, 'contract-header', 0, body(b4a.alloc(32, 7)))
  await refused(t, readContract(w2.core, expect(w2, inst)), 'wrong-core')
  const w3 = await writer(t, await store(t), bot, 'c')
  await w3.writeHeader(inst.manifest)
  await refused(
    t,
    readContract(w3.core, { ...expect(w3, inst), manifestHash: b4a.alloc(32) }),
    'wrong-manifest'
  )
})

test('an instruction signed by another key is refused', async (t) => {
  const { inst } = await minimalInstance(t)
  const w = await writer(t, await store(t), bot)
  await w.writeHeader(inst.manifest)
  await forge(
    w,
    mallory,
    'instruction',
    1,
    c.encode(instructionEncoding, { ...noop(), manifestHash: inst.hash })
  )
  await refused(t, readContract(w.core, expect(w, inst)), 'foreign-author')
})

test('instruction sequence numbers must be contiguous from 1: a gap and a replay are refused', async (t) => {
  const { inst } = await minimalInstance(t)
  const body = c.encode(instructionEncoding, { ...noop(), manifestHash: inst.hash })
  const w1 = await writer(t, await store(t), bot, 'gap')
  await w1.writeHeader(inst.manifest)
  await w1.appendInstruction({ action: 'stop' })
  await forge(w1, bot, 'instruction', 3, body)
  await refused(t, readContract(w1.core, expect(w1, inst)), 'seq-gap')
  const w2 = await writer(t, await store(t), bot, 'replay')
  await w2.writeHeader(inst.manifest)
  await w2.appendInstruction({ action: 'stop' })
  await forge(w2, bot, 'instruction', 1, body)
  await refused(t, readContract(w2.core, expect(w2, inst)), 'out-of-sequence')
})

test('file bytes that differ from their hash are refused and the partial file is deleted', async (t) => {
  const { inst } = await minimalInstance(t)
  const w = await writer(t, await store(t), bot)
  await w.writeHeader(inst.manifest)
  const evil = path.join(await t.tmp(), 'evil.js')
  fs.writeFileSync(evil, 'console.log("ho")\n') // same size, other bytes
  const ref = await w.appendFile(evil, { workload: 'web', path: 'app.js' })
  await t.exception(
    w.appendInstruction({ action: 'deploy', files: [ref] }),
    /bad-file-ref/,
    'the writer refuses to reference it'
  )
  const claimed = { ...ref, hash: inst.manifest.workloads[0].files[0].hash }
  await forge(
    w,
    bot,
    'instruction',
    1,
    c.encode(instructionEncoding, {
      ...noop(),
      action: 'deploy',
      manifestHash: inst.hash,
      files: [claimed]
    })
  )
  const view = await readContract(w.core, expect(w, inst))
  const dest = path.join(await t.tmp(), 'app.js')
  await refused(t, view.fetchFile(view.instructions[0].files[0], dest), 'file-hash-mismatch')
  t.absent(fs.existsSync(dest), 'nothing left on disk')
})

test('a stakeholder signature by a key not in the policy is refused, by the writer and by readers', async (t) => {
  const inst = await banking()
  const w = await writer(t, await store(t), bot)
  await w.writeHeader(inst.manifest)
  const outsider = signManifest(generateKeyPair(), inst.hash, 'legal')
  await refused(t, w.appendApproval(outsider), 'unknown-stakeholder')
  await forge(w, bot, 'approval', 0, c.encode(approvalEncoding, outsider))
  await refused(t, readContract(w.core, expect(w, inst)), 'unknown-stakeholder')
})

test('2 of 3 weights: one signature does not reach the threshold, the second does', async (t) => {
  const inst = await banking()
  const w = await writer(t, await store(t), bot)
  await w.writeHeader(inst.manifest)
  await w.appendApproval(signManifest(exampleStakeholder('legal'), inst.hash, 'legal'))
  await w.appendApproval(signManifest(exampleStakeholder('legal'), inst.hash, 'legal'))
  let view = await readContract(w.core, expect(w, inst))
  t.is(view.approvedWeight(), 1, 'a signer counts once')
  t.is(view.thresholdReached(), false)
  await refused(
    t,
    Promise.resolve().then(() => view.requireApproved()),
    'threshold-not-reached'
  )
  await w.appendApproval(signManifest(exampleStakeholder('budget'), inst.hash, 'budget'))
  await view.refresh()
  t.is(view.approvedWeight(), 2)
  t.is(view.thresholdReached(), true)
  t.execution(() => view.requireApproved())
  view = await readContract(w.core, expect(w, inst))
  t.is(view.thresholdReached(), true, 'and from scratch')
})

test('an update carries its new manifest, which needs its own approvals', async (t) => {
  const inst = await banking()
  const next = await instantiate(loadTemplate(path.join(EXAMPLES, 'banking-feature.yaml')), {
    release: '1.3.0'
  })
  const w = await writer(t, await store(t), bot)
  await w.writeHeader(inst.manifest)
  await w.appendApproval(signManifest(exampleStakeholder('legal'), inst.hash, 'legal'))
  await w.appendApproval(signManifest(exampleStakeholder('it'), inst.hash, 'it'))
  await deployAll(w, inst)
  const refs = []
  for (const s of next.sources) refs.push(await w.appendFile(s.source, s))
  await w.appendInstruction({ action: 'update', manifest: next.manifest, files: refs })
  const view = await readContract(w.core, expect(w, inst))
  t.ok(b4a.equals(view.current.hash, next.hash), 'the update is in force')
  t.is(view.current.manifest.params.release, '1.3.0')
  t.is(view.thresholdReached(inst.hash), true)
  t.is(view.thresholdReached(), false, 'the new manifest is not signed yet')
  t.ok(b4a.equals(manifestHash(view.current.manifest), next.hash))
})

test('a writer reopened after close continues the sequence', async (t) => {
  const { inst } = await minimalInstance(t)
  const dir = await t.tmp()
  const s1 = new Corestore(dir)
  const w1 = new ContractWriter({ store: s1, identity: bot, contractId: 'crm-1' })
  await w1.ready()
  await w1.writeHeader(inst.manifest)
  await deployAll(w1, inst)
  const key = w1.key
  await w1.close()
  await s1.close()

  const w2 = await writer(t, await store(t, dir), bot, 'crm-1')
  t.ok(b4a.equals(w2.key, key), 'the same core, from the contract id')
  t.is(w2.seq, 1, 'state read back from the core')
  await t.exception(w2.writeHeader(inst.manifest), /already has a header/)
  const ins = await w2.appendInstruction({ action: 'stop', reason: 'done' })
  t.is(ins.seq, 2)
  const view = await readContract(w2.core, expect(w2, inst))
  t.alike(
    view.instructions.map((i) => i.seq),
    [1, 2]
  )
})

test('a file cut short by a crash is dropped on reopen, and the core stays readable', async (t) => {
  const { inst } = await minimalInstance(t)
  const dir = await t.tmp()
  const s1 = new Corestore(dir)
  const w1 = new ContractWriter({ store: s1, identity: bot, contractId: 'x' })
  await w1.ready()
  await w1.writeHeader(inst.manifest)
  await w1.core.append([
    c.encode(blobMarkerEncoding, { tag: 0, blocks: 3, size: 3 * 65536 }),
    b4a.alloc(65536)
  ])
  await w1.close()
  await s1.close()
  const w2 = await writer(t, await store(t, dir), bot, 'x')
  t.is(w2.core.length, 1, 'the marker and its partial chunks are gone')
  await deployAll(w2, inst)
  const view = await readContract(w2.core, expect(w2, inst))
  t.is(view.instructions.length, 1)
})

test('a manifest that would write outside the work dir is refused (bad-manifest)', async (t) => {
  const { inst } = await minimalInstance(t)
  const evil = {
    ...inst.manifest,
    workloads: inst.manifest.workloads.map((w) => ({
      ...w,
      files: w.files.map((f) => ({ ...f, path: '../../etc/cron.d/x' }))
    }))
  }
  const w = await writer(t, await store(t), bot)
  await forge(
    w,
    bot,
    'contract-header',
    0,
    c.encode(headerEncoding, {
      core: w.key,
      manifestHash: manifestHash(evil),
      manifest: evil,
      trades: []
    })
  )
  await refused(t, readContract(w.core, { coreKey: w.key, botKey: bot.publicKey }), 'bad-manifest')
})

test('an empty core has no header yet', async (t) => {
  const { inst } = await minimalInstance(t)
  const w = await writer(t, await store(t), bot)
  await refused(t, readContract(w.core, expect(w, inst)), 'no-header')
})

test('state(): what a node acts on, through deploy, scale and stop', async (t) => {
  const inst = await banking()
  const w = await writer(t, await store(t), bot)
  await w.writeHeader(inst.manifest)
  const view = await readContract(w.core, expect(w, inst))
  t.is(view.state().deploy, null, 'nothing to run before a deploy')
  await deployAll(w, inst)
  await w.appendInstruction({ action: 'scale', scale: [{ workload: 'limits', replicas: 4 }] })
  await view.refresh()
  let s = view.state()
  t.is(s.deploy?.seq, 1)
  t.alike(s.replicas, { limits: 4 })
  t.is(s.approved, false, 'banking needs 2 of 3 signatures')
  t.is(s.stopped, false)
  await w.appendInstruction({ action: 'stop', reason: 'rollout cancelled' })
  await view.refresh()
  s = view.state()
  t.is(s.stopped, true)
})

test('concurrent appends are serialised: files keep their framing, seqs stay contiguous', async (t) => {
  const inst = await banking()
  const w = await writer(t, await store(t), bot)
  await w.writeHeader(inst.manifest)
  const src = inst.sources[0]
  const [ref] = await Promise.all([
    w.appendFile(src.source, src),
    w.appendApproval(signManifest(exampleStakeholder('it'), inst.hash, 'it')),
    w.appendFile(src.source, src)
  ])
  await Promise.all([
    w.appendInstruction({ action: 'deploy', files: [ref] }),
    w.appendInstruction({ action: 'scale', scale: [{ workload: 'limits', replicas: 1 }] }),
    w.appendInstruction({ action: 'stop' })
  ])
  const view = await readContract(w.core, expect(w, inst))
  t.alike(
    view.instructions.map((i) => [i.seq, i.action]),
    [
      [1, 'deploy'],
      [2, 'scale'],
      [3, 'stop']
    ]
  )
  t.is(view.approvedWeight(), 1)
})

test('an empty file travels too', async (t) => {
  const { inst } = await minimalInstance(t)
  const w = await writer(t, await store(t), bot)
  await w.writeHeader(inst.manifest)
  const empty = path.join(await t.tmp(), 'empty')
  fs.writeFileSync(empty, '')
  const ref = await w.appendFile(empty, { workload: 'web', path: 'empty' })
  t.is(ref.blocks, 0)
  await deployAll(w, inst)
  const view = await readContract(w.core, expect(w, inst))
  const dest = path.join(await t.tmp(), 'out')
  await view.fetchFile(ref, dest)
  t.is(fs.statSync(dest).size, 0)
})

test('grant and revoke change who may connect, in the order of the core; one for an unknown workload is refused and appends nothing', async (t) => {
  const s = await store(t)
  const bot = generateKeyPair()
  const w = await writer(t, s, bot)
  const { inst } = await minimalInstance(t)
  await w.writeHeader(inst.manifest)
  await deployAll(w, inst)
  const guest = generateKeyPair().publicKey
  const allowed = (): boolean => mayConnect(w.view.state().access.web, guest)
  t.ok(mayConnect(w.view.state().access.web, bot.publicKey), 'the bot may connect by default')
  t.absent(allowed(), 'a guest may not')
  await w.appendInstruction({ action: 'grant', grant: { workload: 'web', key: guest } })
  t.ok(allowed(), 'granted')
  await w.appendInstruction({ action: 'revoke', grant: { workload: '', key: guest } })
  t.absent(allowed(), 'revoked (every workload)')
  const length = w.core.length
  await refused(
    t,
    w.appendInstruction({ action: 'grant', grant: { workload: 'nope', key: guest } }),
    'bad-record'
  )
  await refused(t, w.appendInstruction({ action: 'grant' }), 'bad-record')
  t.is(w.core.length, length, 'nothing was appended')
})
