import test from 'brittle'
import safetyCatch from 'safety-catch'
import fs from 'fs'
import path from 'path'
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
