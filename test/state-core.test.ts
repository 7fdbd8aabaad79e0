import test from 'brittle'
import type { Assert } from 'brittle'
import fs from 'fs'
import path from 'path'
import crypto from 'crypto'
import c from 'compact-encoding'
import type { Duplex } from 'stream'
import b4a from 'b4a'
import Corestore from 'corestore'
import { generateKeyPair, KeyPair } from '../lib/identity'
import { MiB } from '../lib/resources'
import { blobMarkerEncoding, BLOB_MARKER, hashFile } from '../lib/contract'
import { scanState, verifyFiles, STATE_CHUNK } from '../lib/state-core'
import { StateKeeper, StateTarget } from '../node/state-keeper'
import { restore } from '../node/restore'
import { loadTemplate, TemplateError } from '../bot/template'
import { instantiate, DEFAULT_STATE_INTERVAL } from '../bot/manifest'
import { templateFile, minimalYaml } from './helpers/bot'
import safetyCatch from 'safety-catch'

const CONTRACT = b4a.alloc(32, 7)

async function keeper(
  t: Assert,
  over: Partial<StateTarget> = {},
  opts: { store?: Corestore; identity?: KeyPair } = {}
): Promise<{ k: StateKeeper; work: string; store: Corestore; identity: KeyPair }> {
  const work = over.workDir ?? (await t.tmp())
  const store = opts.store ?? new Corestore(await t.tmp())
  const identity = opts.identity ?? generateKeyPair()
  const k = new StateKeeper(store, identity, {
    id: 'r.0',
    contract: CONTRACT,
    spec: { paths: ['data.json', 'db'], interval: 60_000 },
    limit: 64 * MiB,
    workDir: work,
    staging: await t.tmp(),
    ...over
  })
  await k.open()
  t.teardown(async () => {
    await k.close(false).catch(safetyCatch)
    await store.close()
  })
  return { k, work, store, identity }
}

test('a snapshot appends only the files that changed, each with its hash; nothing changed appends nothing', async (t) => {
  const { k, work, identity } = await keeper(t)
  fs.writeFileSync(path.join(work, 'data.json'), '[1]')
  fs.mkdirSync(path.join(work, 'db'))
  fs.writeFileSync(path.join(work, 'db', 'a'), 'aaa')
  fs.writeFileSync(path.join(work, 'other'), 'not declared')
  const first = await k.snapshot()
  t.is(first?.seq, 1)
  t.alike(
    k.last?.snapshot.files.map((f) => f.path),
    ['data.json', 'db/a'],
    "the declared file and the folder's file, not the rest"
  )
  t.is(first?.appended, 6)
  t.is(await k.snapshot(), null, 'nothing changed: no snapshot')
  const old = k.last?.snapshot.files.find((x) => x.path === 'data.json')
  fs.writeFileSync(path.join(work, 'data.json'), '[1,2]')
  const second = await k.snapshot()
  t.is(second?.seq, 2)
  t.is(second?.appended, 5, 'only the changed file is appended')
  const f = k.last?.snapshot.files.find((x) => x.path === 'data.json')
  t.alike(f?.hash, (await hashFile(path.join(work, 'data.json'))).hash, 'with its BLAKE2b-256')
  t.absent(
    old !== undefined && (await k.core.has(old.start, old.start + old.blocks)),
    'the version it replaced is cleared: the core keeps the latest state, not its history'
  )
  const scan = await scanState(k.core, 0, {
    node: identity.publicKey,
    contract: CONTRACT,
    replica: 'r.0'
  })
  t.alike(
    scan.snapshots.map((s) => s.snapshot.seq),
    [1, 2],
    'a reader verifies both, signed by the node'
  )
  t.is(
    await verifyFiles(k.core, scan.snapshots[1].snapshot.files),
    8,
    "and every file's bytes of the latest"
  )
})

test('a file that vanishes is recorded as gone; links are never followed', async (t) => {
  const { k, work } = await keeper(t)
  fs.writeFileSync(path.join(work, 'data.json'), '[1]')
  fs.mkdirSync(path.join(work, 'db'))
  fs.symlinkSync('/etc/hostname', path.join(work, 'db', 'link'))
  await k.snapshot()
  t.alike(
    k.last?.snapshot.files.map((x) => x.path),
    ['data.json'],
    'the link is not in the state'
  )
  fs.rmSync(path.join(work, 'data.json'))
  t.is((await k.snapshot())?.seq, 2, 'a file gone is a change')
  t.alike(k.last?.snapshot.files, [], 'recorded as gone')
})

test("a state larger than the lease's disk is not snapshotted", async (t) => {
  const { k, work } = await keeper(t, { limit: 1000 })
  fs.writeFileSync(path.join(work, 'data.json'), Buffer.alloc(2000))
  await t.exception(
    k.snapshot(),
    /larger than the lease's/,
    "CAPACITY: the state is larger than the lease's disk"
  )
  t.is(k.core.length, 0, 'nothing appended')
})

test('a restarted keeper continues its sequence and does not append unchanged files again; a file cut short by a crash is dropped', async (t) => {
  const dir = await t.tmp()
  const work = await t.tmp()
  const identity = generateKeyPair()
  fs.writeFileSync(path.join(work, 'data.json'), '[1]')
  const store = new Corestore(dir)
  const k = new StateKeeper(store, identity, {
    id: 'r.0',
    contract: CONTRACT,
    spec: { paths: ['data.json'], interval: 60_000 },
    limit: MiB,
    workDir: work,
    staging: await t.tmp()
  })
  await k.open()
  await k.snapshot()
  // a crash in the middle of the next snapshot: a marker promising a block that never came
  await k.core.append(c.encode(blobMarkerEncoding, { tag: BLOB_MARKER, blocks: 1, size: 10 }))
  await k.close(false)
  await store.close()

  const { k: again } = await keeper(
    t,
    { workDir: work, spec: { paths: ['data.json'], interval: 60_000 } },
    { store: new Corestore(dir), identity }
  )
  t.is(again.last?.snapshot.seq, 1, 'it finds its last snapshot')
  t.is(again.core.length, 3, 'the cut-short file is dropped')
  t.is(await again.snapshot(), null, 'an unchanged file is not appended again')
  fs.rmSync(path.join(work, 'data.json'))
  t.is(await again.resume(), 1, 'a file missing from the work dir is put back from its own core')
  t.is(fs.readFileSync(path.join(work, 'data.json'), 'utf8'), '[1]')
  fs.writeFileSync(path.join(work, 'data.json'), '[1,2]')
  t.is((await again.snapshot())?.seq, 2, 'and the sequence goes on')
})

test('a large file goes as 64 KiB blocks and is restored from a peer byte for byte, every hash verified', async (t) => {
  const { k, work, identity, store } = await keeper(t)
  const data = crypto.randomBytes(3 * MiB + 123)
  fs.writeFileSync(path.join(work, 'data.json'), data)
  await k.snapshot()
  const f = k.last?.snapshot.files[0]
  t.is(f?.blocks, Math.ceil(data.byteLength / STATE_CHUNK), `${f?.blocks ?? '?'} blocks`)
  const other = new Corestore(await t.tmp())
  const s1 = store.replicate(true) as Duplex
  const s2 = other.replicate(false) as Duplex
  s1.pipe(s2).pipe(s1)
  t.teardown(async () => {
    s1.destroy()
    s2.destroy()
    await other.close()
  })
  const into = await t.tmp()
  const last = k.last
  if (last === null) return t.fail('no snapshot')
  const ref = {
    trade: 'n.0',
    from: 'r.0',
    node: identity.publicKey,
    core: k.key,
    length: k.core.length,
    seq: last.snapshot.seq,
    hash: last.snapshot.hash
  }
  await restore(
    other,
    ref,
    { contract: CONTRACT, replica: 'r.0' },
    { staging: path.join(await t.tmp(), 's'), workDir: into }
  )
  t.ok(fs.readFileSync(path.join(into, 'data.json')).equals(data), 'restored byte for byte')
  await t.exception(
    restore(
      other,
      { ...ref, hash: b4a.alloc(32) },
      { contract: CONTRACT, replica: 'r.0' },
      { staging: path.join(await t.tmp(), 's'), workDir: await t.tmp() }
    ),
    /snapshot-mismatch/,
    'a snapshot the instruction does not name is refused'
  )
  await t.exception(
    restore(
      other,
      ref,
      { contract: b4a.alloc(32), replica: 'r.0' },
      { staging: path.join(await t.tmp(), 's'), workDir: await t.tmp() }
    ),
    /bad-snapshot: .*contract/,
    "so is another contract's"
  )
})

test("a template's state: goes into the manifest with its interval; a job may not declare it, nor a path outside the work dir", async (t) => {
  const withState = (extra: string, kind = 'service'): string =>
    minimalYaml()
      .replace('kind: service', `kind: ${kind}`)
      .replace('    command: [node, app.js]', `    command: [node, app.js]\n${extra}`)
  const file = await templateFile(t, withState('    state: [data.json, db/]'), { 'app.js': '1\n' })
  const inst = await instantiate(loadTemplate(file))
  t.alike(
    inst.manifest.workloads[0].state,
    { paths: ['data.json', 'db'], interval: DEFAULT_STATE_INTERVAL },
    'paths and the default interval'
  )
  const fast = await instantiate(
    loadTemplate(
      await templateFile(t, withState('    state: [data.json]\n    stateInterval: 2s'), {
        'app.js': '1\n'
      })
    )
  )
  t.is(fast.manifest.workloads[0].state?.interval, 2000, 'stateInterval 2s')
  for (const [extra, kind, why] of [
    ['    state: [data.json]', 'job', 'is only for services'],
    ['    state: [../etc]', 'service', "leaves the workload's work dir"],
    ['    stateInterval: 2s', 'service', 'goes with "state"']
  ]) {
    const bad = await templateFile(t, withState(extra, kind), { 'app.js': '1\n' })
    const err = await (async () => instantiate(loadTemplate(bad)))().then(
      () => null,
      (e: unknown) => e
    )
    t.ok(
      err instanceof TemplateError && err.message.includes(why),
      `${kind} with ${extra.trim()}: ${why}`
    )
  }
})
