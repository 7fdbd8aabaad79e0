/**
 * An indexer's store that RocksDB opened on an older state than its writer core had is refused (CORRUPT) before the
 * peer reads, relays or appends: appending on it would sign a second block at a length its peers hold, a fork of
 * its writer core (lib/store.ts CoreMarks, as a node marks its status core).
 */
import test from 'brittle'
import fs from 'fs'
import path from 'path'
import { testnet, swarm } from './helpers/net'
import { market, history } from './helpers/ledger'
import { MarketPeer } from '../market/peer'
import { Ledger } from '../market/ledger'
import { MARKS_FILE } from '../lib/store'
import { isScitError } from '../lib/errors'
import { generateKeyPair } from '../lib/identity'

test("an indexer refuses a store shorter than its writer core's mark (CORRUPT), and opens on one that is not", async (t) => {
  const net = await testnet(t)
  const data = await t.tmp()
  const identity = generateKeyPair()
  const a = await market(t, net, { data, identity })
  await history(a, 20)
  const ledger = a.ledger
  if (!(ledger instanceof Ledger)) return t.fail('the creator runs a full ledger')
  const key = ledger.writerKey.toString('hex')
  const length = ledger.writerCore.length
  await a.close()

  const file = path.join(data, 'market', MARKS_FILE)
  const marks = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<
    string,
    { length: number; whole: boolean }
  >
  t.alike(marks[key], { length, whole: true }, "the indexer marked its writer core's length")

  const reopen = async (): Promise<unknown> => {
    const p = new MarketPeer({ data, identity, market: a.key, swarm: swarm(t, net) })
    t.teardown(() => p.close(), { order: -1 })
    const err = await p.ready().then(
      () => null,
      (e: unknown) => e
    )
    await p.close()
    return err
  }
  t.is(await reopen(), null, 'as it was, the store opens')
  marks[key].length += 5 // as if the store lost the last 5 blocks of its writer core
  fs.writeFileSync(file, JSON.stringify(marks))
  const err = await reopen()
  t.ok(isScitError(err, 'CORRUPT'), `refused: ${(err as Error | null)?.message}`)
  t.ok(
    (err as Error).message.includes('the other indexers must vote in again'),
    'saying what moving the store aside costs an indexer'
  )
})
