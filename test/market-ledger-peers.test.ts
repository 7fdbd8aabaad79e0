import test from 'brittle'
import b4a from 'b4a'
import { testnet } from './helpers/net'
import { peer, market, until, withFinal, offerOp, bidOp } from './helpers/ledger'
import { seal, envelopeId } from '../lib/envelope'
import { generateKeyPair } from '../lib/identity'
import { isScitError } from '../lib/errors'
import { encodeBody } from '../market/engine/ops'
import { encodeBlock } from '../market/block'
import { verifierStats } from '../market/signature-pool'
import * as Q from '../market/queries'
import type { BidBody } from '../market/types'

test('a read-only peer replicates the view and answers queries, and never writes', async (t) => {
  const net = await testnet(t)
  const creator = await market(t, net)
  const [id] = await creator.client.submit([offerOp({ country: 'DE' })])
  await creator.client.outcome(id, { final: true })

  const explorer = await peer(t, net, { market: creator.key, identity: null })
  t.is(explorer.client.writable, false, 'the client says it is read-only')
  await until(explorer, async () => (await explorer.client.offers({ country: 'DE' })).length === 1)
  const [offer] = await explorer.client.offers({ country: 'DE' })
  t.is(offer.node, creator.client.identity, "the explorer reads the creator's offer")
  t.is((await explorer.client.outcome(id, { final: true })).accepted, true, 'and its final outcome')

  try {
    await explorer.client.submit([bidOp()])
    t.fail('submit should throw')
  } catch (err) {
    t.ok(isScitError(err, 'READ_ONLY'), 'submit throws READ_ONLY')
  }
  t.is(explorer.full.base.local.length, 0, 'its writer core is empty')
})

test('a restarted client (same data dir) continues above its last seq', async (t) => {
  const net = await testnet(t)
  const creator = await market(t, net)
  const data = await t.tmp()
  const identity = generateKeyPair()

  const first = await peer(t, net, { market: creator.key, data, identity })
  const ids = await first.client.submit([bidOp(), bidOp(), bidOp()])
  for (const id of ids) t.ok((await first.client.outcome(id, { final: true })).accepted)
  t.is(first.client.lastSeq, 3)
  await first.close()

  const again = await peer(t, net, { market: creator.key, data, identity })
  t.is(again.client.lastSeq, 3, 'the last seq is recovered from the view and the writer core')
  const [next] = await again.client.submit([bidOp()])
  const o = await again.client.outcome(next, { final: true })
  t.ok(o.accepted, `the next op is accepted, not a replay (${o.reason ?? 'ok'})`)
  t.is(again.client.lastSeq, 4)
})

test('an optimistic block holding a forged envelope is dropped whole and leaves no trace', async (t) => {
  const net = await testnet(t)
  const creator = await market(t, net)
  const mallory = await peer(t, net, { market: creator.key })
  const kp = generateKeyPair()
  const body = encodeBody('bid', bidOp().body as BidBody)
  const valid = seal(kp, { type: 'bid', seq: 1, timestamp: Date.now(), body })
  const forged = b4a.from(seal(kp, { type: 'bid', seq: 2, timestamp: Date.now(), body }))
  forged[forged.byteLength - 1] ^= 1
  await mallory.full.base.append(encodeBlock([valid, forged]), { optimistic: true })

  // Blocks of one writer are ordered: once this later op is final everywhere, the forged block was decided.
  const [later] = await mallory.client.submit([bidOp()])
  t.ok(
    (await mallory.client.outcome(later, { final: true })).accepted,
    'a later valid op from the same writer is final'
  )
  await until(
    creator,
    async () => (await withFinal(creator, (v) => Q.getOutcome(v, later))) !== null
  )

  for (const p of [creator, mallory]) {
    await withFinal(p, async (view) => {
      t.is(await Q.getOutcome(view, envelopeId(forged)), null, 'the forged envelope has no outcome')
      t.is(await Q.getOutcome(view, envelopeId(valid)), null, 'nor the valid one it came with')
    })
  }
})

test('an op appended just before its peer stopped, unseen by any indexer, becomes final once the peer is back', async (t) => {
  const net = await testnet(t)
  const creator = await market(t, net)
  const data = await t.tmp()
  const author = generateKeyPair()
  const env = seal(author, {
    type: 'offer',
    seq: 1,
    timestamp: Date.now(),
    body: encodeBody('offer', offerOp().body as never)
  })

  // A peer in sync with the market loses its connections, appends, and stops: the block is in its writer core and
  // nowhere else, as when a process dies right after appending.
  const first = await peer(t, net, { market: creator.key, data })
  await first.client.synced()
  const swarm = first.swarm
  if (swarm === null) return t.fail('no swarm')
  for (const conn of swarm.connections) conn.destroy()
  await swarm.destroy()
  await first.ledger.append([env])
  t.is(first.full.outbox.size, 1, 'the op waits in the outbox')
  await first.close()

  // Back with the same data: Autobase does not announce a block its own peer already applied, so the outbox sends it again.
  const back = await peer(t, net, { market: creator.key, data, resendAfter: 200 })
  const outcome = await creator.client.outcome(envelopeId(env), { final: true, timeout: 60_000 })
  t.ok(outcome.accepted, 'the indexer decided the op')
  t.ok(
    (await creator.client.offers()).some((o) => o.node === outcome.author),
    'the offer is in the book'
  )
  await back.client.outcome(envelopeId(env), { final: true, timeout: 60_000 })
  await back.full.outbox.check()
  t.is(back.full.outbox.size, 0, 'a final op leaves the outbox')
})

test('submits queued behind an append in flight go out together, in order, and every op is final', async (t) => {
  const net = await testnet(t)
  const creator = await market(t, net)
  const bot = await peer(t, net, { market: creator.key, relay: false }) // its own optimistic blocks
  await bot.client.submitAndWait([bidOp({ cpu: 1000 })])
  const before = bot.full.base.local.length
  const ids = (
    await Promise.all(Array.from({ length: 20 }, () => bot.client.submit([bidOp({ cpu: 1000 })])))
  ).flat()
  const blocks = bot.full.base.local.length - before
  t.ok(blocks > 0 && blocks < 20, `20 submits went out as ${blocks} blocks`)
  const outcomes = await Promise.all(
    ids.map((id) => bot.client.outcome(id, { final: true, timeout: 60_000 }))
  )
  t.alike(
    outcomes.filter((o) => !o.accepted).map((o) => o.reason),
    [],
    'every bid accepted: seqs rose in the order they were appended'
  )
})

test('a copy of a decided op sent again (as the outbox does) still answers a wait that starts meanwhile', async (t) => {
  const net = await testnet(t)
  const creator = await market(t, net)
  const bot = await peer(t, net, { market: creator.key, relay: false })
  const env = seal(generateKeyPair(), {
    type: 'bid',
    seq: 1,
    timestamp: Date.now(),
    body: encodeBody('bid', bidOp().body as BidBody)
  })
  await bot.ledger.append([env])
  t.ok((await bot.client.outcome(envelopeId(env), { final: true })).accepted, 'decided and final')
  // The copy's block decides nothing new, so it is not acked and is dropped: the wait must look, not wait for a hint.
  const again = bot.full.append([env], { direct: true })
  const outcome = bot.client.outcome(envelopeId(env), { final: true, timeout: 30_000 })
  await again
  t.ok((await outcome).accepted, 'the wait gets the outcome decided before')
})

test('a batch with one bad signature among many valid ones: exactly that op is refused, on the indexer and on a replica', async (t) => {
  const net = await testnet(t)
  const indexer = await market(t, net)
  const authors = Array.from({ length: 20 }, () => generateKeyPair())
  const envelopes: Buffer[] = []
  for (let seq = 1; seq <= 10; seq++) {
    for (const a of authors)
      envelopes.push(
        seal(a, {
          type: 'bid',
          seq,
          timestamp: Date.now(),
          body: encodeBody('bid', bidOp().body as BidBody)
        })
      )
  }
  const bad = 137
  envelopes[bad] = b4a.from(envelopes[bad])
  envelopes[bad][envelopes[bad].byteLength - 1] ^= 1 // the last byte is the signature's
  const before = verifierStats.checked
  await indexer.full.append(envelopes)
  const ids = envelopes.map((e) => envelopeId(e))
  await indexer.client.outcome(ids[ids.length - 1], { final: true })
  t.ok(
    verifierStats.checked - before >= envelopes.length - 16,
    `signatures were checked off the apply loop (${verifierStats.checked - before})`
  )

  const replica = await peer(t, net, { market: indexer.key, identity: null })
  for (const [name, p] of [
    ['indexer', indexer],
    ['replica', replica]
  ] as const) {
    const outcomes = await Promise.all(ids.map((id) => p.client.outcome(id, { final: true })))
    const refused = outcomes.flatMap((o, i) => (o.accepted ? [] : [`${i}:${o.reason ?? ''}`]))
    t.alike(
      refused,
      [`${bad}:bad-signature`],
      `${name}: only op ${bad} is refused, for its signature`
    )
  }
})
