import test from 'brittle'
import b4a from 'b4a'
import c from 'compact-encoding'
import { encodeBody, decodeBody, OPS, MarketOp } from '../market/engine/ops'
import { encode, decode, tradeRecord, offerRecord, outcomeRecord } from '../market/messages'
import { Actor, offerBody, bidBody, resources } from './helpers/market'
import type { Trade } from '../market/types'

const a = new Actor('a')
const b = new Actor('b')

const samples: { [K in MarketOp]: Parameters<typeof encodeBody<K>>[1] } = {
  offer: offerBody(),
  'offer-update': offerBody({ country: 'DE', attributes: [] }),
  withdraw: {},
  bid: bidBody({
    countries: ['CH', 'DE'],
    attributes: ['gpu'],
    exclude: [a.key, b.key],
    spread: true,
    replicas: 3
  }),
  cancel: { bid: 'some-bid' },
  settle: { trade: 'x.0', contract: b4a.alloc(32, 1), manifest: b4a.alloc(32, 2) },
  close: { trade: 'x.0', reason: 'done' },
  fail: { trade: 'x.1', reason: 'node gone' },
  claim: { trade: 'x.2', reason: '' },
  deposit: { to: a.publicKey, amount: 5 },
  transfer: { to: b.publicKey, amount: 2 ** 40 },
  template: {
    name: 'crm',
    version: 2,
    document: b4a.from('kind: crm'),
    files: [{ path: 'crm/server.js', data: b4a.from('1') }]
  },
  governance: { action: 'add-indexer', identity: a.publicKey, writer: b.publicKey }
}

test('every op body round-trips and refuses trailing bytes', (t) => {
  for (const type of Object.keys(OPS) as MarketOp[]) {
    const buf = encodeBody(type, samples[type])
    t.alike(decodeBody(type, buf), samples[type], `${type} round-trips`)
    t.exception(
      () => decodeBody(type, b4a.concat([buf, b4a.from([0])])),
      /trailing/,
      `${type}: trailing byte refused`
    )
  }
  const before = b4a.concat([
    c.encode(c.string, 'crm'),
    c.encode(c.uint, 2),
    c.encode(c.buffer, b4a.from('kind: crm'))
  ])
  t.alike(
    decodeBody('template', before),
    { name: 'crm', version: 2, document: b4a.from('kind: crm'), files: [] },
    'a template op from before templates carried files reads as carrying none'
  )
  const genesis = {
    action: 'genesis' as const,
    faucets: [a.publicKey],
    settlementWindow: 60_000,
    offerTtl: 1_800_000
  }
  t.alike(decodeBody('governance', encodeBody('governance', genesis)), genesis)
  const { offerTtl, ...noTtl } = genesis
  t.is(offerTtl > 0, true)
  t.alike(
    decodeBody('governance', encodeBody('governance', noTtl)),
    { ...noTtl, offerTtl: 0 },
    'no offer TTL: 0, offers never go stale'
  )
})

test('a list longer than its limit is refused before anything is allocated', (t) => {
  // A bid body: six resource uints, replicas, then the countries list length, here 2^20.
  const forged = b4a.from([0, 0, 0, 0, 0, 0, 1, 0xfe, 0x00, 0x00, 0x10, 0x00])
  t.exception(() => decodeBody('bid', forged), /longer than 64/)
})

test('view records round-trip, with and without optional fields', (t) => {
  const trade: Trade = {
    id: 'bid.0',
    bid: 'bid',
    replica: 0,
    bot: a.key,
    node: b.key,
    resources: resources({ cpu: 1000 }),
    price: 120,
    duration: 3_600_000,
    matchedAt: 1,
    settleBy: 2,
    state: 'matched',
    contract: null,
    manifest: null,
    start: null,
    end: null,
    escrow: 0,
    paid: 0,
    refunded: 0
  }
  t.alike(decode(tradeRecord, encode(tradeRecord, trade)), trade)
  const settled: Trade = {
    ...trade,
    state: 'settled',
    contract: a.key,
    manifest: 'ab'.repeat(32),
    start: 5,
    end: 10,
    escrow: 120
  }
  t.alike(decode(tradeRecord, encode(tradeRecord, settled)), settled)
  const offer = {
    ...offerBody(),
    node: a.key,
    id: 'op',
    available: resources({ cpu: 1 }),
    time: 9,
    renewed: 10,
    withdrawn: true
  }
  t.alike(decode(offerRecord, encode(offerRecord, offer)), offer)
  const outcome = {
    id: 'x',
    type: 'bid',
    author: null,
    time: 3,
    accepted: false,
    reason: 'invalid' as const,
    message: 'why',
    trades: []
  }
  t.alike(decode(outcomeRecord, encode(outcomeRecord, outcome)), outcome)
})
