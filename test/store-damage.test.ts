import test from 'brittle'
import safetyCatch from 'safety-catch'
import fs from 'fs'
import path from 'path'
import { spawnSync } from 'child_process'
import { openStore } from '../lib/store'
import { storeDamage } from '../lib/errors'
import { explain } from '../lib/command'
import { testnet } from './helpers/net'
import { market } from './helpers/ledger'
import { nodeDaemon } from './helpers/node'

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
