import test from 'brittle'
import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import { execFile } from 'child_process'
import { promisify } from 'util'
import { loadTemplate } from '../bot/template'
import { instantiate, planBids } from '../bot/manifest'
import { manifestSummary, signManifest } from '../bot/stakeholders'
import {
  encodeManifest,
  decodeManifest,
  manifestHash,
  hashFile,
  verifyApproval,
  VerificationError
} from '../lib/contract'
import { generateKeyPair } from '../lib/identity'
import {
  EXAMPLES,
  templateFile,
  minimalYaml,
  minimalInstance,
  exampleStakeholder
} from './helpers/bot'

const run = promisify(execFile)
const SCIT = path.join(__dirname, '..', 'lib', 'cli.js')

test('instantiate is deterministic: same template, files and values, same manifest hash', async (t) => {
  const a = await minimalInstance(t, { users: '100' })
  const b = await minimalInstance(t, { users: 100 })
  t.ok(b4a.equals(a.inst.hash, b.inst.hash), 'text and number values give the same manifest')
  const c = await minimalInstance(t, { users: '101' })
  t.not(a.inst.hash.toString('hex'), c.inst.hash.toString('hex'), 'another value, another hash')
})

test('the manifest encoding round-trips and is what the hash covers', async (t) => {
  const { inst } = await minimalInstance(t)
  const back = decodeManifest(encodeManifest(inst.manifest))
  t.alike(back, inst.manifest)
  t.ok(b4a.equals(manifestHash(back), inst.hash))
})

test('files are hashed (BLAKE2b-256 of the bytes) and a folder ships its contents', async (t) => {
  const yaml = minimalYaml().replace('files: [app.js]', 'files: [app.js, lib]')
  const file = await templateFile(t, yaml, {
    'app.js': 'main\n',
    'lib/a.js': 'a\n',
    'lib/deep/b.js': 'b\n'
  })
  const inst = await instantiate(loadTemplate(file))
  const files = inst.manifest.workloads[0].files
  t.alike(
    files.map((f) => f.path),
    ['a.js', 'app.js', 'deep/b.js'],
    'sorted, folder contents at the root'
  )
  const app = files.find((f) => f.path === 'app.js')
  t.is(app?.size, 5)
  t.ok(app && b4a.equals(app.hash, (await hashFile(path.join(path.dirname(file), 'app.js'))).hash))
  t.is(
    app?.hash.toString('hex'),
    'f25c2e1ad1d98bc118761a4921a081f1b1fd28ff8826f14059d422cb8ebe2e44',
    'what `b2sum -l 256` prints'
  )
  t.is(inst.sources.length, 3, 'every file has a local source for the notary')
  fs.writeFileSync(path.join(path.dirname(file), 'lib/a.js'), 'changed\n')
  const again = await instantiate(loadTemplate(file))
  t.not(
    again.hash.toString('hex'),
    inst.hash.toString('hex'),
    'a changed file changes the manifest hash'
  )
})

test('every example template checks and instantiates with its defaults', async (t) => {
  const files = fs.readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml'))
  t.alike(files.sort(), ['ai-mining.yaml', 'archive.yaml', 'banking-feature.yaml', 'crm.yaml'])
  for (const f of files) {
    const inst = await instantiate(loadTemplate(path.join(EXAMPLES, f)))
    t.ok(inst.manifest.workloads.length > 0, `${f}: ${inst.hash.toString('hex').slice(0, 16)}`)
    t.ok(
      manifestSummary(inst.manifest).includes(inst.hash.toString('hex')),
      `${f}: the summary names the hash`
    )
  }
})

test('scit bot template check passes for every example and prints the hash', async (t) => {
  const files = fs
    .readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => path.join(EXAMPLES, f))
  const { stdout } = await run(process.execPath, [
    SCIT,
    'bot',
    'template',
    'check',
    ...files,
    '--json'
  ])
  const out = JSON.parse(stdout) as Array<{ manifestHash: string }>
  t.is(out.length, 4)
  for (const r of out) t.ok(/^[0-9a-f]{64}$/.test(r.manifestHash))
})

test('scit bot template check exits 1 with the location of the problem', async (t) => {
  const file = await templateFile(t, minimalYaml(), { 'app.js': '1\n' })
  try {
    await run(process.execPath, [SCIT, 'bot', 'template', 'check', file, '--set', 'users=0'])
    t.fail('exited 0')
  } catch (err) {
    const e = err as { code: number; stderr: string }
    t.is(e.code, 1)
    t.ok(e.stderr.includes('tpl.yaml:4:10: parameter users 0 is below the minimum 1'), e.stderr)
  }
})

test('the crm example scales cpu with users: ceil(users / 50) cores', async (t) => {
  const tpl = loadTemplate(path.join(EXAMPLES, 'crm.yaml'))
  for (const [users, cores] of [
    [1, 1],
    [50, 1],
    [51, 2],
    [120, 3],
    [1000, 20]
  ]) {
    const inst = await instantiate(tpl, { users })
    t.is(inst.manifest.workloads[0].resources.cpu, cores * 1000, `${users} users → ${cores} cores`)
  }
})

test('the archive example keeps N TB in the chosen country, in groups of data + parity holders', async (t) => {
  const inst = await instantiate(loadTemplate(path.join(EXAMPLES, 'archive.yaml')), {
    capacity: '5TB',
    country: 'BE',
    data: '4',
    parity: '2'
  })
  const w = inst.manifest.workloads[0]
  const a = w.archive
  if (a === null) return t.fail('no archive spec')
  t.is(a.size, 5e12)
  t.is(a.data + a.parity, 6)
  t.ok(a.shard <= 256 * 1024 ** 3, `a holder keeps at most the default 256 GiB (${a.shard})`)
  t.ok(a.groups * a.data * a.shard >= 5e12, `${a.groups} groups hold the whole size`)
  t.is(w.resources.hdd, a.shard, 'each lease is one shard of hdd')
  t.is(w.replicas, a.groups * 6, 'one lease per shard of each group')
  t.alike(inst.manifest.placement.countries, ['BE'])
})

test('planBids: one bid per workload, replicas all-or-none, with placement and budget', async (t) => {
  const inst = await instantiate(loadTemplate(path.join(EXAMPLES, 'banking-feature.yaml')), {
    rollout: '60'
  })
  const bids = planBids(inst.manifest, { expiry: 1000 })
  t.is(bids.length, 1)
  t.is(bids[0].workload, inst.manifest.workloads[0].name)
  t.alike(bids[0].body, {
    resources: inst.manifest.workloads[0].resources,
    replicas: 3,
    countries: ['CH'],
    attributes: ['certified'],
    spread: true,
    maxPrice: 40,
    duration: 90 * 86_400_000,
    expiry: 1000,
    exclude: []
  })
})

test('a stakeholder signs the manifest hash; the policy decides whether it counts', async (t) => {
  const inst = await instantiate(loadTemplate(path.join(EXAMPLES, 'banking-feature.yaml')))
  const policy = inst.manifest.stakeholders
  t.execution(() =>
    verifyApproval(signManifest(exampleStakeholder('legal'), inst.hash, 'legal'), policy)
  )
  const expectReason = (fn: () => void, reason: string): void => {
    try {
      fn()
      t.fail('accepted')
    } catch (err) {
      t.is((err as VerificationError).reason, reason)
    }
  }
  expectReason(
    () => verifyApproval(signManifest(generateKeyPair(), inst.hash, 'legal'), policy),
    'unknown-stakeholder'
  )
  expectReason(
    () => verifyApproval(signManifest(exampleStakeholder('legal'), inst.hash, 'it'), policy),
    'role-mismatch'
  )
  const forged = signManifest(exampleStakeholder('it'), inst.hash, 'it')
  forged.manifestHash = b4a.alloc(32, 1)
  expectReason(() => verifyApproval(forged, policy), 'bad-approval-signature')
})
