import test from 'brittle'
import b4a from 'b4a'
import c from 'compact-encoding'
import { seal, envelopeEncoding, MAX_ENVELOPE_BYTES } from '../lib/envelope'
import { decodeExact } from '../lib/codec'
import * as Q from '../market/queries'
import { encodeBody, OPS, type MarketOp } from '../market/engine/ops'
import { apply } from '../market/engine'
import { MemoryView } from '../market/memory-view'
import {
  Market,
  Actor,
  offerBody,
  bidBody,
  resources,
  stateBytes,
  prng,
  T0
} from './helpers/market'
import type { RejectReason } from '../market/types'

const contract = b4a.alloc(32, 7)
const manifest = b4a.alloc(32, 9)

async function refused(
  t: test.Assert,
  m: Market,
  send: () => Promise<{ outcome: { accepted: boolean; reason: RejectReason | null; id: string } }>,
  reason: RejectReason,
  what: string,
  recorded = true
): Promise<void> {
  const before = stateBytes(m.view)
  const time = await Q.engineTime(m.view)
  const r = await send()
  t.is(r.outcome.reason, reason, what)
  t.is(r.outcome.accepted, false)
  t.ok(b4a.equals(before, stateBytes(m.view)), `${what}: state unchanged`)
  t.is(await Q.engineTime(m.view), time, `${what}: engine time unchanged`)
  const stored = await Q.getOutcome(m.view, r.outcome.id)
  if (recorded) t.is(stored?.reason, reason, `${what}: recorded under rejected/<id>`)
}

test('envelope-level rejections: malformed, too-large, unknown-type, bad-version, bad-signature', async (t) => {
  const m = await Market.create()
  const a = new Actor('a')
  await refused(t, m, () => m.raw(b4a.from('not an envelope')), 'malformed', 'garbage bytes')
  await refused(t, m, () => m.raw(b4a.alloc(MAX_ENVELOPE_BYTES + 1)), 'too-large', 'oversize')
  await refused(
    t,
    m,
    () => m.raw(seal(a.keyPair, { type: 'status', seq: 1, timestamp: T0, body: b4a.alloc(0) })),
    'unknown-type',
    'a node status record is not a market op'
  )
  const env = decodeExact(envelopeEncoding, a.op('withdraw', {}, T0))
  await refused(
    t,
    m,
    () => m.raw(c.encode(envelopeEncoding, { ...env, version: 2 })),
    'bad-version',
    'future version'
  )
  const forged = a.op('deposit', { to: a.publicKey, amount: 1000 }, T0)
  forged[forged.byteLength - 1] ^= 1
  await refused(t, m, () => m.raw(forged), 'bad-signature', 'forged signature')
  const stolen = decodeExact(
    envelopeEncoding,
    m.faucet.op('deposit', { to: a.publicKey, amount: 1000 }, T0)
  )
  await refused(
    t,
    m,
    () => m.raw(c.encode(envelopeEncoding, { ...stolen, author: a.publicKey })),
    'bad-signature',
    'a signature moved to another author'
  )
  await refused(
    t,
    m,
    () =>
      m.raw(seal(a.keyPair, { type: 'bid', seq: 99, timestamp: T0, body: b4a.from([1, 2, 3]) })),
    'malformed',
    'a body that does not decode'
  )
})

test('replayed seq is refused, and the same bytes keep their first outcome', async (t) => {
  const m = await Market.create()
  const a = new Actor('a')
  const first = a.op('offer', offerBody(), T0 + 5)
  const r = await m.raw(first)
  t.ok(r.outcome.accepted)
  await refused(t, m, () => m.raw(first), 'replay', 'the same envelope again', false)
  t.is((await Q.getOutcome(m.view, r.id))?.accepted, true, 'the first outcome stands')
  await refused(
    t,
    m,
    () => m.send(a, 'withdraw', {}, { seq: 1 }),
    'replay',
    'a new op reusing a seq'
  )
  await refused(t, m, () => m.send(a, 'withdraw', {}, { seq: 0 }), 'replay', 'a lower seq')
  const gap = await m.send(a, 'withdraw', {}, { seq: 10 })
  t.ok(gap.outcome.accepted, 'seq may skip ahead')
})

test('a rejected op consumes its seq: it cannot be accepted later', async (t) => {
  const m = await Market.create()
  const bot = new Actor('bot')
  const early = bot.op('transfer', { to: m.faucet.publicKey, amount: 10 }, T0 + 5)
  t.is((await m.raw(early)).outcome.reason, 'insufficient-funds')
  await m.fund(bot, 100)
  const again = await m.raw(early)
  t.is(again.outcome.reason, 'replay')
  t.is(await m.balance(bot), 100)
})

test('no-genesis: nothing applies before the genesis op, and only the bootstrap writer sends it', async (t) => {
  const view = new MemoryView()
  const a = new Actor('a')
  const r = await apply(view, { value: a.op('offer', offerBody(), T0), bootstrap: true })
  t.is(r.outcome.reason, 'no-genesis')
  const g = await apply(view, {
    value: a.op('governance', { action: 'genesis', faucets: [], settlementWindow: 1000 }, T0),
    bootstrap: false
  })
  t.is(g.outcome.reason, 'invalid', 'genesis from a non-bootstrap writer')
  const ok = await apply(view, {
    value: a.op('governance', { action: 'genesis', faucets: [], settlementWindow: 1000 }, T0),
    bootstrap: true
  })
  t.ok(ok.outcome.accepted)
  t.alike(await Q.listIndexers(view), [a.key], 'the founder is the first indexer')
  const again = await apply(view, {
    value: a.op('governance', { action: 'genesis', faucets: [], settlementWindow: 1000 }, T0),
    bootstrap: true
  })
  t.is(again.outcome.reason, 'bad-state', 'a second genesis')
})

test("not-owner: cancel, settle, close, fail and claim on someone else's bid or trade", async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  const other = new Actor('other')
  const bot = new Actor('bot')
  const thief = new Actor('thief')
  await m.fund(bot, 10_000)
  await m.fund(thief, 10_000)
  await m.send(node, 'offer', offerBody({ resources: resources({ cpu: 1000, memory: 2 ** 31 }) }))
  await m.send(other, 'offer', offerBody())
  const resting = await m.send(bot, 'bid', bidBody({ countries: ['DE'] }))
  t.alike(resting.outcome.trades, [])
  const b = await m.send(bot, 'bid', bidBody())
  const trade = b.outcome.trades[0]
  await refused(
    t,
    m,
    () => m.send(thief, 'cancel', { bid: resting.id }),
    'not-owner',
    "cancel another bot's bid"
  )
  await refused(
    t,
    m,
    () => m.send(thief, 'settle', { trade, contract, manifest }),
    'not-owner',
    "settle another bot's trade"
  )
  await refused(
    t,
    m,
    () => m.send(thief, 'close', { trade, reason: '' }),
    'not-owner',
    "close another bot's trade"
  )
  await refused(
    t,
    m,
    () => m.send(node, 'fail', { trade, reason: '' }),
    'not-owner',
    'a node cannot fail its own lease'
  )
  await m.send(bot, 'settle', { trade, contract, manifest })
  await refused(
    t,
    m,
    () => m.send(other, 'claim', { trade, reason: '' }),
    'not-owner',
    "claim another node's payout"
  )
  await refused(
    t,
    m,
    () => m.send(bot, 'claim', { trade, reason: '' }),
    'not-owner',
    'a bot cannot claim'
  )
})

test('not-found and bad-state', async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  const bot = new Actor('bot')
  await m.fund(bot, 10_000)
  await refused(
    t,
    m,
    () => m.send(node, 'offer-update', offerBody()),
    'not-found',
    'update without an offer'
  )
  await refused(t, m, () => m.send(node, 'withdraw', {}), 'not-found', 'withdraw without an offer')
  await refused(
    t,
    m,
    () => m.send(bot, 'cancel', { bid: 'nope' }),
    'not-found',
    'cancel an unknown bid'
  )
  await refused(
    t,
    m,
    () => m.send(bot, 'settle', { trade: 'nope.0', contract, manifest }),
    'not-found',
    'settle an unknown trade'
  )
  await m.send(node, 'offer', offerBody())
  await refused(
    t,
    m,
    () => m.send(node, 'offer', offerBody()),
    'bad-state',
    'a second offer from one node'
  )
  const b = await m.send(bot, 'bid', bidBody())
  await refused(
    t,
    m,
    () => m.send(bot, 'cancel', { bid: b.id }),
    'bad-state',
    'cancel a filled bid'
  )
  await m.send(bot, 'settle', { trade: b.outcome.trades[0], contract, manifest })
  await refused(
    t,
    m,
    () => m.send(bot, 'settle', { trade: b.outcome.trades[0], contract, manifest }),
    'bad-state',
    'settle twice'
  )
})

/** A body whose uint at `at` (encoded as the single byte 0) becomes 2^60: compact-encoding will not encode it, a hostile writer will. */
function unsafe(who: Actor, type: 'offer' | 'transfer', body: Buffer, at: number): Buffer {
  const big = b4a.alloc(9)
  big[0] = 0xff
  big.writeBigUInt64LE(2n ** 60n, 1)
  return seal(who.keyPair, {
    type,
    seq: ++who.seq,
    timestamp: T0 + 1000,
    body: b4a.concat([body.subarray(0, at), big, body.subarray(at + 1)])
  })
}

test('invalid bodies are refused with a message', async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  const bot = new Actor('bot')
  const cases: Array<
    [
      string,
      () => Promise<{ outcome: { accepted: boolean; reason: RejectReason | null; id: string } }>
    ]
  > = [
    ['lower-case country', () => m.send(node, 'offer', offerBody({ country: 'ch' }))],
    ['three-letter country', () => m.send(node, 'offer', offerBody({ country: 'CHE' }))],
    ['unsorted attributes', () => m.send(node, 'offer', offerBody({ attributes: ['ssd', 'gpu'] }))],
    [
      'duplicate attributes',
      () => m.send(node, 'offer', offerBody({ attributes: ['gpu', 'gpu'] }))
    ],
    [
      'attribute too long',
      () => m.send(node, 'offer', offerBody({ attributes: ['x'.repeat(33)] }))
    ],
    ['city too long', () => m.send(node, 'offer', offerBody({ city: 'x'.repeat(65) }))],
    [
      'minLease above maxLease',
      () => m.send(node, 'offer', offerBody({ minLease: 10, maxLease: 5 }))
    ],
    ['zero replicas', () => m.send(bot, 'bid', bidBody({ replicas: 0 }))],
    ['too many replicas', () => m.send(bot, 'bid', bidBody({ replicas: 10_000 }))],
    ['zero duration', () => m.send(bot, 'bid', bidBody({ duration: 0 }))],
    ['empty resources', () => m.send(bot, 'bid', bidBody({ resources: resources({}) }))],
    ['expiry in the past', () => m.send(bot, 'bid', bidBody({ expiry: T0 - 1 }))],
    ['duplicate country', () => m.send(bot, 'bid', bidBody({ countries: ['CH', 'CH'] }))],
    ['zero deposit', () => m.send(m.faucet, 'deposit', { to: bot.publicKey, amount: 0 })],
    [
      'bad template name',
      () => m.send(bot, 'template', { name: 'Has Spaces', version: 1, document: b4a.from('x') })
    ],
    [
      'empty manifest hash',
      () => m.send(bot, 'settle', { trade: 'x.0', contract, manifest: b4a.alloc(0) })
    ]
  ]
  for (const [what, send] of cases) await refused(t, m, send, 'invalid', what)
  // compact-encoding itself refuses a uint beyond 2^53, so such an amount is malformed rather than invalid.
  await refused(
    t,
    m,
    () =>
      m.raw(unsafe(node, 'offer', encodeBody('offer', offerBody({ resources: resources({}) })), 0)),
    'malformed',
    'unsafe resource amount'
  )
  await refused(
    t,
    m,
    () =>
      m.raw(unsafe(bot, 'transfer', encodeBody('transfer', { to: node.publicKey, amount: 0 }), 32)),
    'malformed',
    'unsafe transfer amount'
  )
  const r = await m.send(node, 'offer', offerBody({ country: 'ch' }))
  t.ok(/ISO 3166/.test(r.outcome.message ?? ''), 'the message says what to fix')
})

test('a bid for more than any node has is invalid; an empty market lets it rest', async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  const bot = new Actor('bot')
  const early = await m.send(bot, 'bid', bidBody({ resources: resources({ cpu: 64_000 }) }))
  t.ok(early.outcome.accepted, 'no offers yet: nothing is known, the bid rests')
  await m.send(node, 'offer', offerBody())
  await refused(
    t,
    m,
    () => m.send(bot, 'bid', bidBody({ resources: resources({ cpu: 64_000 }) })),
    'invalid',
    'one replica is bigger than any node'
  )
  const busy = await m.send(bot, 'bid', bidBody({ resources: resources({ cpu: 8000 }) }))
  t.is(busy.outcome.trades.length, 1)
  const rests = await m.send(bot, 'bid', bidBody({ resources: resources({ cpu: 8000 }) }))
  t.ok(rests.outcome.accepted, 'bigger than what is free now, but not than the node: it rests')
  t.alike(rests.outcome.trades, [])
})

test('overspend: settle and transfer beyond the balance are insufficient-funds', async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  const bot = new Actor('bot')
  await m.fund(bot, 100)
  await m.send(node, 'offer', offerBody())
  const b = await m.send(bot, 'bid', bidBody())
  await refused(
    t,
    m,
    () => m.send(bot, 'settle', { trade: b.outcome.trades[0], contract, manifest }),
    'insufficient-funds',
    'escrow of 120 from 100'
  )
  await refused(
    t,
    m,
    () => m.send(bot, 'transfer', { to: node.publicKey, amount: 101 }),
    'insufficient-funds',
    'transfer 101 from 100'
  )
})

test('not-faucet and overflow', async (t) => {
  const m = await Market.create()
  const a = new Actor('a')
  await refused(
    t,
    m,
    () => m.send(a, 'deposit', { to: a.publicKey, amount: 1 }),
    'not-faucet',
    'deposit by a non-faucet'
  )
  await m.send(m.faucet, 'deposit', { to: a.publicKey, amount: Number.MAX_SAFE_INTEGER })
  await refused(
    t,
    m,
    () => m.send(m.faucet, 'deposit', { to: a.publicKey, amount: 1 }),
    'overflow',
    'money supply beyond 2^53'
  )
})

test('hostile bodies never throw out of apply', async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  const bot = new Actor('bot')
  await m.send(node, 'offer', offerBody())
  await m.send(bot, 'bid', bidBody())
  const rand = prng(42)
  const types = Object.keys(OPS) as MarketOp[]
  const valid = [
    m.faucet.op('deposit', { to: bot.publicKey, amount: 5 }, T0),
    node.op('offer-update', offerBody(), T0),
    bot.op('bid', bidBody(), T0)
  ]
  const seen = new Set<string>()
  for (let i = 0; i < 1500; i++) {
    let body: Buffer
    if (i % 2 === 0) {
      body = b4a.alloc(Math.floor(rand() * 80))
      for (let j = 0; j < body.byteLength; j++) body[j] = Math.floor(rand() * 256)
    } else {
      body = b4a.from(decodeExact(envelopeEncoding, valid[i % 3]).body)
      body[Math.floor(rand() * body.byteLength)] = Math.floor(rand() * 256)
    }
    const type = types[Math.floor(rand() * types.length)]
    const who = [node, bot, m.faucet][i % 3]
    const r = await m.raw(seal(who.keyPair, { type, seq: ++who.seq, timestamp: T0 + i, body }))
    seen.add(r.outcome.accepted ? 'accepted' : String(r.outcome.reason))
  }
  t.ok(seen.has('malformed') && seen.has('invalid'), `outcomes seen: ${[...seen].join(', ')}`)
})

test('a timestamp near 2^53 is invalid instead of overflowing deadlines', async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  const bot = new Actor('bot')
  await m.send(node, 'offer', offerBody())
  await refused(
    t,
    m,
    () =>
      m.send(bot, 'bid', bidBody({ expiry: Number.MAX_SAFE_INTEGER }), {
        at: Number.MAX_SAFE_INTEGER - 5
      }),
    'invalid',
    'far-future timestamp'
  )
  await refused(
    t,
    m,
    () => m.send(bot, 'bid', bidBody({ duration: 2 ** 41 })),
    'invalid',
    'a lease of 70 years'
  )
})

test('offers whose bytes add up past 2^53 are all accepted; the capacity gauge stops at 2^53 - 1', async (t) => {
  const m = await Market.create()
  const huge = resources({ cpu: 1000, memory: 1024, ssd: 2 ** 52 })
  // Unbounded, the second offer's total threw inside apply: on an indexer, the market stopped for good.
  for (const name of ['node-a', 'node-b', 'node-c']) {
    const r = await m.send(new Actor(name), 'offer', offerBody({ resources: huge }))
    t.ok(r.outcome.accepted, `${name}'s offer accepted`)
  }
  const s = await Q.stats(m.view)
  t.is(s.offers, 3)
  t.is(s.capacity.total.ssd, Number.MAX_SAFE_INTEGER)
  t.is(s.capacity.total.cpu, 3000, 'the other kinds are exact')
  const bot = new Actor('bot')
  await m.fund(bot, 1_000_000)
  const bid = await m.send(bot, 'bid', bidBody({ resources: resources({ cpu: 500, memory: 512 }) }))
  t.is(bid.outcome.trades.length, 1, 'the market goes on')
})
