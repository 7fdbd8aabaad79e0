import test from 'brittle'
import b4a from 'b4a'
import c from 'compact-encoding'
import Corestore from 'corestore'
import { StatusCore, summarize } from '../node/status'
import { readCore } from '../lib/status'
import { StatusRecord, LogRecord } from '../lib/node-messages'
import { generateKeyPair } from '../lib/identity'
import { seal } from '../lib/envelope'
import { statusBody, transitionOf } from './helpers/node'

async function statusCore(
  t: test.Assert,
  opts = {}
): Promise<{ core: StatusCore; store: Corestore; identity: ReturnType<typeof generateKeyPair> }> {
  const store = new Corestore(await t.tmp())
  const identity = generateKeyPair()
  const core = new StatusCore(store, identity, opts)
  await core.ready()
  t.teardown(async () => {
    await core.close()
    await store.close()
  })
  return { core, store, identity }
}

test('status records round-trip through a replicated core and verify', async (t) => {
  const { core, store, identity } = await statusCore(t)
  const digest = b4a.alloc(32, 7)
  await core.record(transitionOf('job', 'starting'))
  await core.record(transitionOf('job', 'running'))
  await core.record(
    transitionOf('job', 'exited', {
      exitCode: 0,
      stdout: digest,
      output: digest,
      reason: 'exit code 0'
    }),
    { contract: b4a.alloc(32, 1), trade: 'bid.0' }
  )

  const reader = new Corestore(await t.tmp())
  t.teardown(() => reader.close())
  const s1 = store.replicate(true) as NodeJS.ReadWriteStream
  const s2 = reader.replicate(false) as NodeJS.ReadWriteStream
  s1.pipe(s2).pipe(s1)
  t.teardown(() => {
    ;(s1 as unknown as { destroy(): void }).destroy()
    ;(s2 as unknown as { destroy(): void }).destroy()
  })
  const remote = reader.get({ key: core.status.key })
  await remote.ready()
  await remote.update({ wait: true })
  const r = await readCore<StatusRecord>(remote, identity.publicKey, 'status')
  t.is(r.refused.length, 0)
  t.alike(
    r.records.map((x) => x.body.state),
    ['starting', 'running', 'exited']
  )
  const last = r.records[2].body
  t.is(last.exitCode, 0)
  t.alike(last.stdout, digest)
  t.is(last.trade, 'bid.0')
  const [view] = summarize(r.records)
  t.is(view.state, 'exited')
  t.is(view.transitions, 3)
})

test('a tampered record is refused by the reader and the rest still verify', async (t) => {
  const { core, identity } = await statusCore(t)
  await core.record(transitionOf('svc', 'starting'))
  const good = seal(identity, {
    type: 'status',
    seq: 2,
    timestamp: 1,
    body: statusBody({ workload: 'svc', state: 'running', reason: 'ok' })
  })
  const tampered = b4a.from(good)
  tampered[tampered.byteLength - 80] ^= 1 // a byte of the body: the signature no longer covers it
  await core.status.append(tampered)
  const mallory = generateKeyPair()
  await core.status.append(seal(mallory, { type: 'status', seq: 3, timestamp: 1, body: good }))
  await core.status.append(
    seal(identity, {
      type: 'status',
      seq: 9,
      timestamp: 1,
      body: statusBody({ workload: 'svc', state: 'stopped' })
    })
  )
  await core.status.append(
    seal(identity, { type: 'status', seq: 5, timestamp: 1, body: b4a.from([0, 2, 0xff]) })
  )
  await core.record(transitionOf('svc', 'stopped'))

  const r = await readCore<StatusRecord>(core.status, identity.publicKey, 'status')
  t.alike(
    r.refused.map((x) => [x.index, x.reason]),
    [
      [1, 'bad-signature'],
      [2, 'wrong-author'],
      [3, 'replay'],
      [4, 'malformed']
    ]
  )
  t.alike(
    r.records.map((x) => [x.index, x.body.state]),
    [
      [0, 'starting'],
      [5, 'stopped']
    ]
  )
})

test('output is appended to the log core in bounded chunks with offsets', async (t) => {
  const { core, identity } = await statusCore(t, { maxPending: 10_000 })
  core.output('svc', 'stdout', b4a.from('hello '))
  core.output('svc', 'stdout', b4a.from('world\n'))
  core.output('svc', 'stderr', b4a.from('e'.repeat(9000)))
  core.output('svc', 'stderr', b4a.from('f'.repeat(5000))) // over the 10 000 pending bytes: 4000 dropped
  await core.flush()
  core.output('svc', 'stderr', b4a.from('after'))
  await core.flush()
  const r = await readCore<LogRecord>(core.logs, identity.publicKey, 'log')
  t.is(r.refused.length, 0)
  const out = r.records.filter((x) => x.body.stream === 'stdout')
  t.is(b4a.toString(b4a.concat(out.map((x) => x.body.data))), 'hello world\n')
  const err = r.records.filter((x) => x.body.stream === 'stderr')
  t.ok(
    err.every((x) => x.body.data.byteLength <= 4096),
    'chunks of at most 4 KiB'
  )
  t.alike(
    err.map((x) => x.body.offset),
    [0, 4096, 8192, 14000],
    'the dropped bytes show as a gap'
  )
})

test('the log core is rotated: old blocks are cleared locally', async (t) => {
  const { core, identity } = await statusCore(t, { keepLogBlocks: 3 })
  for (let i = 0; i < 6; i++) {
    core.output('svc', 'stdout', b4a.from(`line ${i}\n`))
    await core.flush()
  }
  t.is(core.logs.length, 6)
  t.absent(await core.logs.has(0), 'block 0 cleared')
  t.ok(await core.logs.has(5), 'recent blocks kept')
  const r = await readCore<LogRecord>(core.logs, identity.publicKey, 'log', { start: 3 })
  t.alike(
    r.records.map((x) => b4a.toString(x.body.data)),
    ['line 3\n', 'line 4\n', 'line 5\n']
  )
})

test('a status record of another format is refused as unsupported, saying which: older (no version, format 1) or newer', async (t) => {
  const { core, identity } = await statusCore(t)
  // Format 1 had no version: it began with the workload id.
  const v1 = c.encode(c.string, 'svc')
  await core.status.append(seal(identity, { type: 'status', seq: 1, timestamp: 1, body: v1 }))
  const v3 = b4a.from([0, 3, 1, 2, 3])
  await core.status.append(seal(identity, { type: 'status', seq: 2, timestamp: 1, body: v3 }))
  const r = await readCore<StatusRecord>(core.status, identity.publicKey, 'status')
  t.alike(
    r.refused.map((x) => [x.index, x.reason]),
    [
      [0, 'unsupported'],
      [1, 'unsupported']
    ]
  )
  t.ok(
    r.refused[0].message.includes('status record: written by an older scit (format 1)'),
    r.refused[0].message
  )
  t.ok(
    r.refused[1].message.includes('status record: written by a newer scit (format 3)'),
    r.refused[1].message
  )
})
