import test from 'brittle'
import safetyCatch from 'safety-catch'
import fs from 'fs'
import path from 'path'
import { spawnSync } from 'child_process'
import { openStore, CoreMarks, MARKS_FILE } from '../lib/store'
import { storeDamage, isScitError } from '../lib/errors'
import { explain } from '../lib/command'
import { testnet } from './helpers/net'
import { market } from './helpers/ledger'
import { nodeDaemon } from './helpers/node'
import { NodeDaemon } from '../node/daemon'

/** A real RocksDB read error: a store whose tables have 16 bytes flipped mid-file (as the soak does), read back. */
async function damagedRead(data: string): Promise<Error | null> {
  const dir = path.join(data, 'corestore')
  let store = openStore(dir, { writeBuffer: 64 * 1024 })
  for (let n = 0; n < 4; n++) {
    const core = store.get({ name: `c${n}` })
    await core.ready()
    for (let i = 0; i < 300; i++) await core.append(Buffer.alloc(1024, i))
  }
  await store.close()
  const db = path.join(dir, 'db')
  for (const f of fs.readdirSync(db).filter((f) => f.endsWith('.sst'))) {
    const bytes = fs.readFileSync(path.join(db, f))
    for (let i = bytes.length >> 1; i < (bytes.length >> 1) + 16; i++) bytes[i] ^= 0xff
    fs.writeFileSync(path.join(db, f), bytes)
  }
  store = openStore(dir, { writeBuffer: 64 * 1024 })
  try {
    for (let n = 0; n < 4; n++) {
      const core = store.get({ name: `c${n}` })
      await core.ready()
      for (let i = 0; i < 300; i++) await core.get(i)
    }
    return null
  } catch (err) {
    return err as Error
  } finally {
    await store.close().catch(safetyCatch) // a store RocksDB stopped may refuse to flush as it closes
  }
}

test("RocksDB's damage, met by a read or as the cause of a write it refused, is store damage: CORRUPT naming the store", async (t) => {
  const data = await t.tmp()
  const read = await damagedRead(data)
  t.ok(read !== null && storeDamage(read) === read, `a read of the damaged table: ${read?.message}`)
  // how rocksdb-native wraps it: a refused write batch (its cause), a read batch (its errors)
  const write = new Error('Batch was not applied', { cause: read })
  const reads = new AggregateError([null, read], 'Batch was not applied')
  t.is(storeDamage(write), read, 'a refused write: the damage is its cause')
  t.is(storeDamage(reads), read, 'a refused read batch: one of its errors')
  t.is(storeDamage(new Error('connection reset by peer')), null, 'anything else is not damage')
  const e = explain(write, data)
  t.is(e?.code, 'CORRUPT')
  t.ok(e?.message.includes(`Move ${path.join(data, 'corestore')} aside`), e?.message)
})

test('a node whose store turns out damaged while it runs (a connection fails on it) says so (damaged, with what RocksDB found), which scit node start turns into CORRUPT instead of hanging', async (t) => {
  const data = await t.tmp()
  const damage = await damagedRead(path.join(data, 'elsewhere'))
  if (damage === null) return t.fail('no damage met')
  const net = await testnet(t)
  const m = await market(t, net)
  const n = await nodeDaemon(t, net, m.key)
  const said: Error[] = []
  n.on('damaged', (err: Error) => said.push(err))
  const conn = [...n.swarm.connections][0]
  if (conn === undefined) return t.fail('the node has no connection')
  // what replication's stream says when a block it reads (or a write it makes) fails in RocksDB
  conn.emit('error', new Error('Batch was not applied', { cause: damage }))
  await new Promise((resolve) => setImmediate(resolve))
  t.is(said.length, 1, "the node says 'damaged'")
  t.is(n.damaged, damage, 'with the damage RocksDB found')
})

/** A store whose writer was killed (-9) after `blocks` appends of 1000 bytes to core 'c': they are only in RocksDB's write-ahead log. */
function killedWriter(dir: string, blocks: number): string {
  const store = JSON.stringify(path.join(__dirname, '..', 'lib', 'store.js'))
  const script = `(async () => {
    const s = require(${store}).openStore(${JSON.stringify(dir)}, { writeBuffer: 16 * 1024 * 1024 })
    const core = s.get({ name: 'c' })
    await core.ready()
    for (let i = 0; i < ${blocks}; i++) await core.append(Buffer.alloc(1000, i))
    process.kill(process.pid, 'SIGKILL')
  })()`
  const r = spawnSync(process.execPath, ['-e', script], { timeout: 60_000 })
  if (r.signal !== 'SIGKILL')
    throw new Error(`the writer ended with ${r.signal ?? r.status}: ${String(r.stderr)}`)
  const logs = fs.readdirSync(path.join(dir, 'db')).filter((f) => f.endsWith('.log'))
  if (logs.length !== 1) throw new Error(`expected one write-ahead log, found ${logs.join(', ')}`)
  return path.join(dir, 'db', logs[0])
}

/** Open the store and read core 'c': its length, or the error of the open. */
async function reopened(dir: string): Promise<number | Error> {
  const store = openStore(dir)
  try {
    const core = store.get({ name: 'c' })
    await core.ready()
    return core.length
  } catch (err) {
    return err as Error
  } finally {
    await store.close().catch(safetyCatch)
  }
}

test('a write-ahead log damaged mid-file fails the open (CORRUPT), instead of dropping every write from the damage on; a last record cut short by a kill still opens', async (t) => {
  const data = await t.tmp()
  const dir = path.join(data, 'corestore')
  const wal = killedWriter(dir, 200)
  const bytes = fs.readFileSync(wal)
  for (let i = bytes.length >> 1; i < (bytes.length >> 1) + 16; i++) bytes[i] ^= 0xff
  fs.writeFileSync(wal, bytes)
  // The soak (seed 27): RocksDB's point-in-time recovery opened this with half the core, its peers holding all of it.
  const flipped = await reopened(dir)
  t.ok(
    flipped instanceof Error,
    `refused: ${flipped instanceof Error ? flipped.message : `opened with ${flipped} of 200 blocks`}`
  )
  t.ok(storeDamage(flipped) !== null, 'as store damage')
  t.is(explain(flipped, data)?.code, 'CORRUPT')

  const other = path.join(await t.tmp(), 'corestore')
  const cut = killedWriter(other, 200)
  fs.truncateSync(cut, fs.statSync(cut).size - 100)
  const length = await reopened(other)
  t.is(
    typeof length,
    'number',
    `a torn last record is what a kill leaves: the store opens (${String(length)})`
  )
  t.ok(typeof length === 'number' && length >= 199, 'with every write before it')
})

/**
 * A writer killed (-9) right after appending `blocks` blocks to core 'c', its marks (CoreMarks) written: what a node
 * does with its status core. `track`: false for a core it does not mark (a copy of a peer's).
 */
function markedWriter(dir: string, blocks: number, track = true, kill = true): void {
  const store = JSON.stringify(path.join(__dirname, '..', 'lib', 'store.js'))
  const script = `(async () => {
    const { openStore, CoreMarks } = require(${store})
    const s = openStore(${JSON.stringify(dir)})
    await s.ready()
    const marks = await CoreMarks.check(${JSON.stringify(dir)}, s)
    const core = s.get({ name: 'c' })
    await core.ready()
    if (${track}) marks.track(core, { whole: true })
    for (let i = 0; i < ${blocks}; i++) await core.append(Buffer.alloc(1000, i))
    await marks.close()
    if (${kill}) process.kill(process.pid, 'SIGKILL')
    await s.close()
  })()`
  const r = spawnSync(process.execPath, ['-e', script], { timeout: 60_000 })
  if (kill ? r.signal !== 'SIGKILL' : r.status !== 0)
    throw new Error(`the writer ended with ${r.signal ?? r.status}: ${String(r.stderr)}`)
}

/** The store in `dir` opened and checked against its marks: null, or the error (with explain's code). */
async function checked(dir: string): Promise<Error | null> {
  const store = openStore(dir)
  try {
    await store.ready()
    await CoreMarks.check(dir, store)
    return null
  } catch (err) {
    return err as Error
  } finally {
    await store.close().catch(safetyCatch)
  }
}

test('a store opened on an older state than its cores had (a MANIFEST cut short, a core rolled back) is refused (CORRUPT); one killed -9 right after its appends opens', async (t) => {
  const dir = path.join(await t.tmp(), 'corestore')
  markedWriter(dir, 400)
  t.is(
    await checked(dir),
    null,
    'killed -9 right after its appends: the store opens, its marks hold'
  )
  const older = path.join(await t.tmp(), 'db')
  fs.cpSync(path.join(dir, 'db'), older, { recursive: true })
  markedWriter(dir, 400)
  t.is(await checked(dir), null, 'and again, 800 blocks')

  // The soak (seed 27, run 8): a node killed, restarted (RocksDB flushes the recovered log into a table, an edit of
  // its new MANIFEST), killed again; the MANIFEST cut to half opens on the state before that edit, without an error.
  const cut = path.join(await t.tmp(), 'corestore')
  markedWriter(cut, 100, false)
  markedWriter(cut, 2000, false)
  const manifest = fs.readdirSync(path.join(cut, 'db')).find((f) => f.startsWith('MANIFEST-'))
  if (manifest === undefined) return t.fail('no MANIFEST')
  const file = path.join(cut, 'db', manifest)
  fs.truncateSync(file, fs.statSync(file).size >> 1)
  const refused = await checked(cut)
  t.ok(refused !== null, `the cut MANIFEST refused: ${refused?.message}`)
  t.is(explain(refused, cut)?.code, 'CORRUPT')
  const length = await reopened(cut)
  t.ok(
    typeof length === 'number' && length < 2100,
    `RocksDB alone opened it, with ${String(length)} of 2100 blocks`
  )

  // A core rolled back (a write-ahead log cut short opens on its prefix): the older tables under the newer marks.
  const db = path.join(dir, 'db')
  fs.rmSync(db, { recursive: true })
  fs.cpSync(older, db, { recursive: true })
  const rolled = await checked(dir)
  t.ok(
    rolled !== null && /has \d+ blocks of the \d+ it had/.test(rolled.message),
    `rolled back refused: ${rolled?.message}`
  )
  t.is(explain(rolled, dir)?.code, 'CORRUPT')
})

test("a node refuses a store shorter than its status core's mark (CORRUPT) before it joins its market", async (t) => {
  const net = await testnet(t)
  const m = await market(t, net)
  const data = await t.tmp()
  const n = await nodeDaemon(t, net, m.key, { data })
  const key = n.status.status.key.toString('hex')
  await n.close()
  const file = path.join(data, 'corestore', MARKS_FILE)
  const marks = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, { length: number }>
  t.ok(key in marks, "the node marked its status core's length")
  marks[key].length += 5 // as if the store lost its last 5 status records
  fs.writeFileSync(file, JSON.stringify(marks))
  const again = new NodeDaemon({ ...n.opts, dht: net.createNode() })
  t.teardown(() => again.close())
  const err = await again.ready().then(
    () => null,
    (e: unknown) => e
  )
  t.ok(isScitError(err, 'CORRUPT'), `refused: ${(err as Error | null)?.message}`)
  await again.close()
  fs.writeFileSync(file, '{"status": 1}')
  const odd = await checked(path.join(data, 'corestore'))
  t.ok(isScitError(odd, 'CORRUPT'), `marks not as scit writes them: ${odd?.message}`)
})

/** Cut a RocksDB MANIFEST (a log of records: crc32, length u16 LE, type, data) at the start of its last record. */
function loseLastEdit(db: string): void {
  const name = fs.readdirSync(db).find((f) => f.startsWith('MANIFEST-'))
  if (name === undefined) throw new Error('no MANIFEST')
  const bytes = fs.readFileSync(path.join(db, name))
  let last = 0
  for (let at = 0; at + 7 <= bytes.length; at += 7 + bytes.readUInt16LE(at + 4)) last = at
  fs.truncateSync(path.join(db, name), last)
}

test("a store whose MANIFEST lost its last edit (the soak's run 8) keeps its cores' lengths but not their middle: refused (CORRUPT), though none of its cores was marked", async (t) => {
  const dir = path.join(await t.tmp(), 'corestore')
  markedWriter(dir, 10, false)
  markedWriter(dir, 10, false, false) // a clean close: a new MANIFEST holds all of it
  markedWriter(dir, 100, false) // killed: only in the write-ahead log
  markedWriter(dir, 50, false) // its open flushed those 100 into a table: the MANIFEST's last edit
  loseLastEdit(path.join(dir, 'db'))
  const refused = await checked(dir)
  t.ok(refused !== null, `refused: ${refused?.message}`)
  t.is(explain(refused, dir)?.code, 'CORRUPT')

  // What RocksDB alone opened (the store as the check left it: the check only reads)
  const store = openStore(dir)
  t.teardown(() => store.close().catch(safetyCatch))
  const core = store.get({ name: 'c' })
  await core.ready()
  let missing = 0
  for (let i = 0; i < core.length; i++) if ((await core.get(i, { wait: false })) === null) missing++
  t.ok(
    core.length === 170 && missing > 0,
    `RocksDB alone: ${core.length} blocks, ${missing} of them gone`
  )
})
