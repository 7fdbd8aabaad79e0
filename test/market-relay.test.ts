import test from 'brittle'
import type { Assert } from 'brittle'
import b4a from 'b4a'
import { testnet } from './helpers/net'
import { peer, market, addIndexer, offerOp, bidOp, PeerOptions } from './helpers/ledger'
import { seal, envelopeId } from '../lib/envelope'
import { generateKeyPair, KeyPair } from '../lib/identity'
import { encodeBody } from '../market/engine/ops'
import { MAX_RELAY_OPS } from '../market/relay'
import * as Q from '../market/queries'
import { HyperbeeView } from '../market/hyperbee-view'
import type { MarketPeer } from '../market/peer'
import type { BidBody } from '../market/types'

/** A market whose creator is its only indexer, and a bot peer whose relay channels are open. */
async function withBot(
  t: Assert,
  opts: PeerOptions = {}
): Promise<{ creator: MarketPeer; bot: MarketPeer }> {
  const net = await testnet(t)
  const creator = await market(t, net)
  const bot = await peer(t, net, { market: creator.key, ...opts })
  await bot.flushed()
  await bot.relays?.opened()
  return { creator, bot }
}

/** Ops a peer appended for others as a relay. */
function served(p: MarketPeer): number {
  return p.relays?.counters.served ?? 0
}

function bids(author: KeyPair, from: number, n: number): Buffer[] {
  const body = encodeBody('bid', bidOp().body as BidBody)
  return Array.from({ length: n }, (_, i) =>
    seal(author, { type: 'bid', seq: from + i, timestamp: Date.now(), body })
  )
}

/** Settle with the error code, or 'ok'. */
async function code(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'ok',
    (err: { code?: string }) => err.code ?? String(err)
  )
}

test("a non-writer's ops ride in the indexer's writer core: its own stays empty, and they are final", async (t) => {
  const { creator, bot } = await withBot(t)
  const ids = await bot.client.submit([offerOp(), bidOp({ cpu: 1000 })])
  for (const id of ids)
    t.ok((await bot.client.outcome(id, { final: true })).accepted, 'accepted and final')
  t.is(bot.full.base.local.length, 0, 'the bot appended nothing itself')
  t.is(served(creator), 2, 'the indexer appended both ops to its writer core')
  t.is(bot.relays?.counters.sent, 2, 'the bot handed them to it')
  await bot.full.outbox.check()
  t.is(bot.full.outbox.size, 0, 'final ops leave the outbox (they were kept there until then)')
})

test('a relay checks every op and refuses a request whole, with the reason; nothing is appended', async (t) => {
  const { creator, bot } = await withBot(t)
  const relays = creator.relays
  if (relays === null) return t.fail('the creator has no relay')
  const author = generateKeyPair()
  const [good, next] = bids(author, 1, 2)
  const forged = b4a.from(next)
  forged[forged.byteLength - 1] ^= 1
  const governance = seal(author, {
    type: 'governance',
    seq: 3,
    timestamp: Date.now(),
    body: encodeBody('governance', {
      action: 'add-indexer',
      identity: author.publicKey,
      writer: author.publicKey
    })
  })

  t.is(
    await code(relays.accept([good, forged])),
    'INVALID_ENVELOPE',
    'a forged signature: the whole request is refused'
  )
  t.is(await code(relays.accept([governance])), 'REJECTED', 'governance ops are not relayed')
  t.is(await code(relays.accept([])), 'INVALID_ARGUMENT', 'an empty request')
  t.is(
    await code(relays.accept(bids(author, 10, MAX_RELAY_OPS + 1))),
    'INVALID_ARGUMENT',
    'more ops than a request may carry'
  )
  t.is(
    await code(relays.accept([b4a.from('not an envelope')])),
    'INVALID_ENVELOPE',
    'bytes that are no envelope'
  )
  const botRelays = bot.relays
  if (botRelays === null) return t.fail('the bot has no relay')
  t.is(
    await code(botRelays.accept([good])),
    'REJECTED',
    'a peer that is not a writer does not relay'
  )

  // Over the wire: the bot learns the relay refused, and would append the ops itself.
  const relay = bot.ledger.relay
  if (relay === null) return t.fail('the bot sends no ops through relays')
  t.is(await relay([good, forged]), false, 'the bot is told its request was refused')
  t.is(served(creator), 0, 'the indexer appended nothing for anyone')
  await creator.ledger.update()
  t.is(
    await Q.getOutcome(HyperbeeView.reading(creator.ledger.view), envelopeId(good)),
    null,
    'not even the valid op of a refused request'
  )
})

test('a relay that says yes and drops the ops cannot censor them: the outbox sends them again in an optimistic block', async (t) => {
  const { creator, bot } = await withBot(t, { resendAfter: 200 })
  bot.ledger.relay = async () => true // a lying relay: every request "taken", none appended
  const [id] = await bot.client.submit([offerOp()])
  const o = await bot.client.outcome(id, { final: true, timeout: 60_000 })
  t.ok(o.accepted, 'final and accepted all the same')
  // At least once: on a busy machine the outbox may resend before the first block is final.
  t.ok(
    bot.ledger.counters.optimistic >= 1,
    `it went out in the bot's own block (${bot.ledger.counters.optimistic} time(s))`
  )
  t.is(served(creator), 0, 'no relay carried it')
})

test('ops a relay took but the sender has not applied go first in its next optimistic block: seq order holds', async (t) => {
  const { bot } = await withBot(t)
  bot.ledger.relay = async () => true // taken, and (so far) not seen applied
  const author = generateKeyPair()
  const [first, second] = bids(author, 1, 2)
  await bot.ledger.append([first])
  await bot.full.append([second], { direct: true }) // an optimistic block, as the outbox resends
  t.is(
    bot.ledger.counters.optimistic,
    2,
    'the block carries the first op again, ahead of the second'
  )
  for (const e of [first, second]) {
    const o = await bot.client.outcome(envelopeId(e), { final: true })
    t.ok(o.accepted, `accepted, not a replay (${o.reason ?? 'ok'})`)
  }
})

test('a relay that goes away is routed around: the next ops go through another and are final', async (t) => {
  const net = await testnet(t)
  const a = await market(t, net)
  const b = await peer(t, net, { market: a.key })
  const c = await peer(t, net, { market: a.key })
  await addIndexer([a], b)
  await addIndexer([a, b], c)
  const bot = await peer(t, net, { market: a.key })
  await bot.flushed()
  await bot.relays?.opened()
  const [first] = await bot.client.submit([offerOp()])
  t.ok(
    (await bot.client.outcome(first, { final: true, timeout: 60_000 })).accepted,
    'first op final'
  )
  const indexers = [a, b, c]
  const carriers = indexers.filter((p) => served(p) === 1)
  t.is(carriers.length, 1, 'one indexer carried it')
  await carriers[0].close()
  const rest = indexers.filter((p) => p !== carriers[0])
  const next = await bot.client.submit([bidOp({ cpu: 1000 }), bidOp({ cpu: 1000 })])
  for (const id of next) {
    const o = await bot.client.outcome(id, { final: true, timeout: 60_000 })
    t.ok(o.accepted, `accepted after the relay went away (${o.reason ?? 'ok'})`)
  }
  t.is(
    rest.reduce((n, p) => n + served(p), 0),
    2,
    'another indexer carried them'
  )
})
