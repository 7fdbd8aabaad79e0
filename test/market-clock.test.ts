import test from 'brittle'
import path from 'path'
import { testnet } from './helpers/net'
import { peer, market, offerOp, bidOp, offered } from './helpers/ledger'
import { seal, envelopeId } from '../lib/envelope'
import { generateKeyPair } from '../lib/identity'
import { encodeBody } from '../market/engine/ops'
import { MarketPeer } from '../market/peer'
import { PeerClock, MAX_AHEAD, TOLERANCE } from '../market/clock'
import * as K from '../market/engine/keys'
import type { BidBody } from '../market/types'

const MIN5 = 5 * 60_000

function aheadBid(author = generateKeyPair(), seq = 1, by = MIN5): Buffer {
  const body = encodeBody('bid', bidOp().body as BidBody)
  return seal(author, { type: 'bid', seq, timestamp: Date.now() + by, body })
}

test("a peer's market clock is the median of its indexers': one skewed indexer moves no one", (t) => {
  const raw = (skew: number) => () => 1_000_000_000 + skew
  const a = {}
  const b = {}
  const c = {}

  const follower = new PeerClock(raw(MIN5)) // 5 min ahead, reaching three honest indexers
  follower.measure(a, 1_000_000_000 - 100, 1_000_000_000 + MIN5)
  follower.measure(b, 1_000_000_000, 1_000_000_000 + MIN5 - 40, 1_000_000_000 + MIN5 + 40)
  follower.measure(c, 1_000_000_000 + 150, 1_000_000_000 + MIN5)
  t.is(follower.now(), 1_000_000_000, 'the follower takes the middle indexer clock')

  const honest = new PeerClock(raw(0), () => true) // an indexer; one of the two others is 5 min ahead
  honest.measure(a, 1_000_000_000 + MIN5, 1_000_000_000)
  honest.measure(b, 1_000_000_000 + 300, 1_000_000_000)
  t.is(
    honest.offset(),
    0,
    'an honest indexer does not follow the skewed one (its own clock counts)'
  )

  const skewed = new PeerClock(raw(MIN5), () => true) // the skewed indexer itself corrects its clock
  skewed.measure(a, 1_000_000_000, 1_000_000_000 + MIN5)
  skewed.measure(b, 1_000_000_000 + 300, 1_000_000_000 + MIN5)
  t.is(skewed.now(), 1_000_000_000 + 300, 'the skewed indexer seals at the median of the three')

  const close = new PeerClock(raw(0))
  close.measure(a, 1_000_000_000 + TOLERANCE - 1, 1_000_000_000)
  t.is(close.offset(), 0, 'within the tolerance its own clock is used as it is')
  close.forget(a)
  t.is(new PeerClock(raw(7)).now(), 1_000_000_007, 'no indexer known: its own clock')
})

test('an indexer takes no op stamped more than 30 s ahead of its clock: CLOCK_AHEAD with its time, nothing changes (no network)', async (t) => {
  const identity = generateKeyPair()
  const creator = new MarketPeer({
    data: path.join(await t.tmp(), 'm'),
    identity,
    genesis: { faucets: [identity.publicKey], settlementWindow: 60_000 },
    offline: true
  })
  t.teardown(() => creator.close())
  await creator.ready()
  const relays = creator.relays
  if (relays === null) return t.fail('the indexer has no relay')
  const before = await creator.client.time()

  const author = generateKeyPair()
  const ahead = aheadBid(author, 1)
  const err = await relays.accept([ahead]).then(
    () => null,
    (e: Error & { code?: string; time?: number }) => e
  )
  t.is(err?.code, 'CLOCK_AHEAD', 'refused as stamped ahead')
  t.ok(
    err?.time !== undefined && Math.abs(err.time - Date.now()) < 5_000,
    "the error carries the indexer's clock"
  )
  t.is(relays.counters.served, 0, 'nothing appended')
  t.is(await creator.client.time(), before, 'engine time did not move')
  t.is(
    await creator.ledger.view.get(K.rejected(envelopeId(ahead))),
    null,
    'not even refused in the view'
  )

  const fine = aheadBid(author, 2, MAX_AHEAD - 5_000)
  await relays.accept([fine])
  const outcome = await creator.client.outcome(envelopeId(fine), { final: true })
  t.ok(outcome.accepted, 'an op within the bound is taken')
  t.ok(outcome.time <= Date.now() + MAX_AHEAD, 'engine time stays within the bound of its clock')
})

test('nodes and bots whose clocks are 5 min off trade normally; the market keeps the indexers’ time (swarm)', async (t) => {
  const net = await testnet(t)
  const creator = await market(t, net)
  // The node starts 5 min behind: it learns the indexer's clock as its relay channel opens.
  const node = await peer(t, net, {
    market: creator.key,
    follow: true,
    now: () => Date.now() - MIN5
  })
  // The bot's clock jumps 5 min ahead once it runs: its first seal is refused, and sealed again.
  let skew = 0
  const bot = await peer(t, net, {
    market: creator.key,
    follow: true,
    now: () => Date.now() + skew
  })
  await Promise.all([node.relays?.opened(), bot.relays?.opened()])

  const [offerId] = await node.client.submit([offerOp()])
  t.ok((await node.client.outcome(offerId, { final: true })).accepted, 'the node offers')
  await creator.client.submitAndWait([
    { type: 'deposit', body: { to: bot.identity?.publicKey, amount: 10_000_000 } }
  ])
  await offered(bot, node.client.identity)

  skew = MIN5
  const [bidId] = await bot.client.submit([bidOp()])
  const outcome = await bot.client.outcome(bidId, { final: true })
  t.ok(outcome.accepted, 'the bot bids')
  t.is(outcome.trades.length, 1, 'and trades')
  const offset = bot.relays?.clock.offset() ?? 0
  t.ok(Math.abs(offset + MIN5) < TOLERANCE, `the bot learned the indexer's clock (${offset} ms)`)
  t.ok(
    (await creator.client.time()) <= Date.now() + MAX_AHEAD,
    "the market's engine time stays within the bound of the indexer's clock"
  )

  // An op sealed 5 min ahead and not corrected is not indexed, and is not kept to be sent again.
  const bid = aheadBid(bot.identity ?? generateKeyPair(), bot.client.lastSeq + 1)
  await t.exception(bot.ledger.append([bid]), /CLOCK_AHEAD|ahead/, 'refused')
  t.absent(
    bot.ledger.pending().some((e) => e.equals(bid)),
    'dropped from the outbox'
  )
  const someone = generateKeyPair().publicKey
  await creator.client.submitAndWait([{ type: 'deposit', body: { to: someone, amount: 1 } }])
  t.is(await creator.ledger.view.get(K.accepted(envelopeId(bid))), null, 'never applied')
  t.ok((await creator.client.time()) <= Date.now() + MAX_AHEAD, 'engine time still bounded')
})
