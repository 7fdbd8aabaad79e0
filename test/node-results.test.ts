import test from 'brittle'
import fs from 'fs'
import path from 'path'
import Corestore from 'corestore'
import { generateKeyPair } from '../lib/identity'
import { scanState } from '../lib/state-core'
import { JobResults } from '../node/results'
import { loadTemplate, TemplateError } from '../bot/template'
import { instantiate, DEFAULT_RETAIN } from '../bot/manifest'
import { templateFile, minimalYaml } from './helpers/bot'

test("a job's output is kept in a signed core past its lease for its retain, then cleared; a restart keeps the reckoning", async (t) => {
  const data = await t.tmp()
  const work = await t.tmp()
  fs.writeFileSync(path.join(work, 'result.json'), '{"answer":42}\n')
  const identity = generateKeyPair()
  const contract = generateKeyPair().publicKey
  const store = new Corestore(await t.tmp())
  t.teardown(() => store.close())
  const results = new JobResults({ store, identity, data })
  const key = await results.capture('t1.0', contract, work, {
    output: 'result.json',
    limit: 1 << 20,
    retain: 1
  })
  if (key === null) return t.fail('nothing kept')
  t.alike(results.key('t1.0'), key, 'the core that keeps it, named for the status record')

  const core = store.get({ key })
  await core.ready()
  const scan = await scanState(core, 0, { node: identity.publicKey, contract, replica: 't1.0' })
  t.is(scan.snapshots.length, 1, 'one snapshot, signed by the node for this contract and replica')
  t.is(scan.snapshots[0].snapshot.files[0].path, 'result.json')

  await results.sweep()
  t.ok(core.length > 0 && (await core.has(0)), 'kept while its lease runs')
  // a restarted node reads what it keeps from <data>/results.json, and the lease's end starts the clock
  const again = new JobResults({ store, identity, data })
  t.alike(again.key('t1.0'), key)
  again.ended('t1.0')
  await new Promise((resolve) => setTimeout(resolve, 5))
  await again.sweep()
  t.absent(await core.has(0), 'its blocks are cleared once the retain is over')
  t.is(again.key('t1.0'), null, 'and it is no longer kept')
  await core.close()

  const none = await results.capture('t2.0', contract, work, {
    output: 'missing.json',
    limit: 1 << 20,
    retain: 1
  })
  t.is(none, null, 'a job that wrote no output keeps nothing')
})

test("a template's retain goes with a job's output: 1d by default, at most 30d", async (t) => {
  const job = (extra: string): string =>
    minimalYaml()
      .replace('kind: service', 'kind: job')
      .replace('    command: [node, app.js]', `    command: [node, app.js]\n${extra}`)
  const files = { 'app.js': '1\n' }
  const plain = await instantiate(
    loadTemplate(await templateFile(t, job('    output: out.json'), files))
  )
  t.is(plain.manifest.workloads[0].retain, DEFAULT_RETAIN, 'kept a day by default')
  const week = await instantiate(
    loadTemplate(await templateFile(t, job('    output: out.json\n    retain: 7d'), files))
  )
  t.is(week.manifest.workloads[0].retain, 7 * 24 * 3_600_000, 'retain: 7d')
  for (const [extra, why] of [
    ['    retain: 2d', 'goes with "output"'],
    ['    output: out.json\n    retain: 31d', 'at most 30d']
  ]) {
    const err = await (async () =>
      instantiate(loadTemplate(await templateFile(t, job(extra), files))))().then(
      () => null,
      (e: unknown) => e
    )
    t.ok(err instanceof TemplateError && err.message.includes(why), String(err))
  }
})
