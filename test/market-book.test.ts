import test from 'brittle'
import { GiB } from '../lib/resources'
import * as Q from '../market/queries'
import { Market, Actor, offerBody, bidBody, resources, HOUR, T0 } from './helpers/market'

test('a bid matches the cheapest offer first', async (t) => {
  const m = await Market.create()
  const cheap = new Actor('cheap')
  const dear = new Actor('dear')
  const bot = new Actor('bot')
  await m.send(dear, 'offer', offerBody({ prices: resources({ cpu: 200, memory: 10 }) }))
  await m.send(cheap, 'offer', offerBody({ prices: resources({ cpu: 100, memory: 10 }) }))
  const r = await m.send(bot, 'bid', bidBody())
  t.ok(r.outcome.accepted)
  t.alike(r.outcome.trades, [`${r.id}.0`])
  const trade = await Q.getTrade(m.view, `${r.id}.0`)
  t.is(trade?.node, cheap.key, 'placed on the cheaper node')
  t.is(trade?.price, 120, 'at the offer price: 1 core × 100 + 2 GiB × 10')
  t.is(trade?.state, 'matched')
  t.is(trade?.settleBy, m.clock + HOUR)
  t.is((await Q.getBid(m.view, r.id))?.state, 'filled')
})

test('at equal price the older offer wins, then the lower node key', async (t) => {
  const m = await Market.create()
  const first = new Actor('first')
  const second = new Actor('second')
  const bot = new Actor('bot')
  await m.send(second, 'offer', offerBody())
  await m.send(first, 'offer', offerBody())
  const r = await m.send(bot, 'bid', bidBody())
  t.is((await Q.getTrade(m.view, `${r.id}.0`))?.node, second.key, 'oldest offer first')

  const m2 = await Market.create()
  const [a, b] = [new Actor('tie-a'), new Actor('tie-b')].sort((x, y) => (x.key < y.key ? -1 : 1))
  await m2.send(b, 'offer', offerBody(), { at: T0 + 10 })
  await m2.send(a, 'offer', offerBody(), { at: T0 + 10 }) // same engine time: the clock does not move
  const r2 = await m2.send(bot, 'bid', bidBody())
  t.is((await Q.getTrade(m2.view, `${r2.id}.0`))?.node, a.key, 'same time: lower node key')
})

test('an offer price update loses time priority', async (t) => {
  const m = await Market.create()
  const a = new Actor('a')
  const b = new Actor('b')
  const bot = new Actor('bot')
  await m.send(a, 'offer', offerBody())
  await m.send(b, 'offer', offerBody())
  await m.send(a, 'offer-update', offerBody({ prices: resources({ cpu: 150, memory: 10 }) }))
  await m.send(a, 'offer-update', offerBody()) // back to b's prices, but later
  const r = await m.send(bot, 'bid', bidBody())
  t.is((await Q.getTrade(m.view, `${r.id}.0`))?.node, b.key)
})

test('all-or-none: a bid that cannot place every replica places none and rests', async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  const bot = new Actor('bot')
  await m.send(node, 'offer', offerBody({ resources: resources({ cpu: 2000, memory: 8 * GiB }) }))
  const r = await m.send(bot, 'bid', bidBody({ replicas: 3 }))
  t.ok(r.outcome.accepted)
  t.alike(r.outcome.trades, [])
  t.is((await Q.getBid(m.view, r.id))?.state, 'open')
  t.alike(
    (await Q.getOffer(m.view, node.key))?.available,
    resources({ cpu: 2000, memory: 8 * GiB }),
    'nothing taken'
  )
  const two = await m.send(bot, 'bid', bidBody({ replicas: 2 }))
  t.is(two.outcome.trades.length, 2, 'two replicas fit on one node without spread')
  t.alike((await Q.getOffer(m.view, node.key))?.available, resources({ cpu: 0, memory: 4 * GiB }))
})

test('replicas split over several offers, cheapest first', async (t) => {
  const m = await Market.create()
  const a = new Actor('a')
  const b = new Actor('b')
  const bot = new Actor('bot')
  await m.send(
    a,
    'offer',
    offerBody({
      resources: resources({ cpu: 2000, memory: 64 * GiB }),
      prices: resources({ cpu: 100 })
    })
  )
  await m.send(
    b,
    'offer',
    offerBody({
      resources: resources({ cpu: 8000, memory: 64 * GiB }),
      prices: resources({ cpu: 150 })
    })
  )
  const r = await m.send(bot, 'bid', bidBody({ replicas: 3 }))
  const trades = await Q.listTrades(m.view, { bid: r.id })
  t.alike(
    trades.map((x) => [x.node, x.price]),
    [
      [a.key, 100],
      [a.key, 100],
      [b.key, 150]
    ]
  )
})

test('partial capacity stays on the offer for the next bid', async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  const bot = new Actor('bot')
  await m.send(node, 'offer', offerBody())
  await m.send(bot, 'bid', bidBody({ resources: resources({ cpu: 3000, memory: 4 * GiB }) }))
  const o = await Q.getOffer(m.view, node.key)
  t.alike(o?.available, resources({ cpu: 5000, memory: 28 * GiB, ssd: 1024 * GiB }))
  const r = await m.send(bot, 'bid', bidBody({ resources: resources({ cpu: 5000 }) }))
  t.is(r.outcome.trades.length, 1)
  const r2 = await m.send(bot, 'bid', bidBody({ resources: resources({ cpu: 1 }) }))
  t.is(r2.outcome.trades.length, 0, 'no cpu left')
})

test('country constraint', async (t) => {
  const m = await Market.create()
  const ch = new Actor('ch')
  const de = new Actor('de')
  const bot = new Actor('bot')
  await m.send(ch, 'offer', offerBody({ country: 'CH', prices: resources({ cpu: 200 }) }))
  await m.send(de, 'offer', offerBody({ country: 'DE', prices: resources({ cpu: 100 }) }))
  const r = await m.send(bot, 'bid', bidBody({ countries: ['CH', 'FR'] }))
  t.is((await Q.getTrade(m.view, `${r.id}.0`))?.node, ch.key, 'the cheaper DE offer is not allowed')
  const none = await m.send(bot, 'bid', bidBody({ countries: ['FR'] }))
  t.alike(none.outcome.trades, [])
})

test('attribute constraint: every required attribute must be on the offer', async (t) => {
  const m = await Market.create()
  const plain = new Actor('plain')
  const gpu = new Actor('gpu')
  const bot = new Actor('bot')
  await m.send(plain, 'offer', offerBody({ attributes: ['ssd'], prices: resources({ cpu: 10 }) }))
  await m.send(
    gpu,
    'offer',
    offerBody({ attributes: ['certified', 'gpu', 'ssd'], prices: resources({ cpu: 100 }) })
  )
  const r = await m.send(bot, 'bid', bidBody({ attributes: ['gpu', 'ssd'] }))
  t.is((await Q.getTrade(m.view, `${r.id}.0`))?.node, gpu.key)
  const none = await m.send(bot, 'bid', bidBody({ attributes: ['tpu'] }))
  t.alike(none.outcome.trades, [])
})

test('spread puts each replica on a distinct node', async (t) => {
  const m = await Market.create()
  const a = new Actor('a')
  const b = new Actor('b')
  const bot = new Actor('bot')
  await m.send(a, 'offer', offerBody({ prices: resources({ cpu: 10 }) }))
  const rests = await m.send(bot, 'bid', bidBody({ replicas: 2, spread: true }))
  t.alike(rests.outcome.trades, [], 'one node cannot hold a spread of two')
  const fill = await m.send(b, 'offer', offerBody({ prices: resources({ cpu: 20 }) }))
  t.is(fill.outcome.trades.length, 2, 'the second node lets the resting bid fill')
  const nodes = (await Q.listTrades(m.view, { bid: rests.id })).map((x) => x.node).sort()
  t.alike(nodes, [a.key, b.key].sort())
})

test('exclude keeps a bid off the named nodes', async (t) => {
  const m = await Market.create()
  const bad = new Actor('bad')
  const good = new Actor('good')
  const bot = new Actor('bot')
  await m.send(bad, 'offer', offerBody({ prices: resources({ cpu: 1 }) }))
  await m.send(good, 'offer', offerBody({ prices: resources({ cpu: 100 }) }))
  const r = await m.send(bot, 'bid', bidBody({ exclude: [bad.key] }))
  t.is((await Q.getTrade(m.view, `${r.id}.0`))?.node, good.key)
})

test('lease duration must be within the offer minimum and maximum', async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  const bot = new Actor('bot')
  await m.send(node, 'offer', offerBody({ minLease: HOUR, maxLease: 10 * HOUR }))
  t.alike(
    (await m.send(bot, 'bid', bidBody({ duration: HOUR - 1 }))).outcome.trades,
    [],
    'too short'
  )
  t.alike(
    (await m.send(bot, 'bid', bidBody({ duration: 10 * HOUR + 1 }))).outcome.trades,
    [],
    'too long'
  )
  t.is(
    (await m.send(bot, 'bid', bidBody({ duration: 10 * HOUR }))).outcome.trades.length,
    1,
    'the maximum is allowed'
  )
})

test('maxPrice caps the price per replica-hour', async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  const bot = new Actor('bot')
  await m.send(node, 'offer', offerBody())
  t.alike(
    (await m.send(bot, 'bid', bidBody({ maxPrice: 119 }))).outcome.trades,
    [],
    '120 is above 119'
  )
  t.is((await m.send(bot, 'bid', bidBody({ maxPrice: 120 }))).outcome.trades.length, 1)
})

test('an unfilled bid rests until expiry, then is dropped', async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  const bot = new Actor('bot')
  const r = await m.send(bot, 'bid', bidBody({ expiry: T0 + 100 }))
  t.is((await Q.getBid(m.view, r.id))?.state, 'open')
  t.is((await Q.listBids(m.view, { state: 'open' })).length, 1)
  await m.send(node, 'offer', offerBody(), { at: T0 + 101 })
  t.is((await Q.getBid(m.view, r.id))?.state, 'expired', 'expired before the offer could fill it')
  t.is((await Q.listTrades(m.view)).length, 0)
  t.is((await Q.listBids(m.view, { state: 'open' })).length, 0)
})

test('a bid expiring exactly now can still fill', async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  const bot = new Actor('bot')
  const r = await m.send(bot, 'bid', bidBody({ expiry: T0 + 100 }))
  const o = await m.send(node, 'offer', offerBody(), { at: T0 + 100 })
  t.alike(o.outcome.trades, [`${r.id}.0`])
})

test('cancel takes a resting bid out of the book', async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  const bot = new Actor('bot')
  const r = await m.send(bot, 'bid', bidBody())
  const c = await m.send(bot, 'cancel', { bid: r.id })
  t.ok(c.outcome.accepted)
  t.is((await Q.getBid(m.view, r.id))?.state, 'cancelled')
  const o = await m.send(node, 'offer', offerBody())
  t.alike(o.outcome.trades, [], 'a cancelled bid does not fill')
})

test('resting bids fill in price-time priority when capacity arrives', async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  const bot = new Actor('bot')
  const low = await m.send(
    bot,
    'bid',
    bidBody({ maxPrice: 500, resources: resources({ cpu: 1000 }) })
  )
  const high = await m.send(
    bot,
    'bid',
    bidBody({ maxPrice: 900, resources: resources({ cpu: 1000 }) })
  )
  const late = await m.send(
    bot,
    'bid',
    bidBody({ maxPrice: 900, resources: resources({ cpu: 1000 }) })
  )
  const o = await m.send(
    node,
    'offer',
    offerBody({ resources: resources({ cpu: 2000, memory: GiB }) })
  )
  t.alike(
    o.outcome.trades,
    [`${high.id}.0`, `${late.id}.0`],
    'highest maxPrice first, then the older bid'
  )
  t.is((await Q.getBid(m.view, low.id))?.state, 'open')
  const trade = await Q.getTrade(m.view, `${high.id}.0`)
  t.is(trade?.price, 100, 'at the offer price, not the bid maximum')
})

test('withdraw stops matching', async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  const bot = new Actor('bot')
  await m.send(node, 'offer', offerBody())
  await m.send(node, 'withdraw', {})
  t.alike((await m.send(bot, 'bid', bidBody())).outcome.trades, [])
  t.is((await Q.listOffers(m.view)).length, 0)
  t.is((await Q.listOffers(m.view, { includeWithdrawn: true })).length, 1)
  const back = await m.send(node, 'offer', offerBody())
  t.is(back.outcome.trades.length, 1, 'offering again re-opens the node and fills the resting bid')
})

test('offer-update keeps what leases hold and refuses to go below it', async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  const bot = new Actor('bot')
  await m.send(node, 'offer', offerBody())
  await m.send(bot, 'bid', bidBody({ resources: resources({ cpu: 3000 }) }))
  const up = await m.send(
    node,
    'offer-update',
    offerBody({ resources: resources({ cpu: 4000, memory: GiB }) })
  )
  t.ok(up.outcome.accepted)
  t.alike((await Q.getOffer(m.view, node.key))?.available, resources({ cpu: 1000, memory: GiB }))
  const down = await m.send(
    node,
    'offer-update',
    offerBody({ resources: resources({ cpu: 2000 }) })
  )
  t.is(down.outcome.reason, 'invalid')
  t.ok(/leases hold/.test(down.outcome.message ?? ''))
})

test('queries: offers by country and by price, trades by node and by bot', async (t) => {
  const m = await Market.create()
  const a = new Actor('a')
  const b = new Actor('b')
  const bot = new Actor('bot')
  await m.send(a, 'offer', offerBody({ country: 'DE', prices: resources({ cpu: 300, memory: 1 }) }))
  await m.send(b, 'offer', offerBody({ country: 'CH', prices: resources({ cpu: 100, memory: 1 }) }))
  t.alike(
    (await Q.listOffers(m.view, { country: 'DE' })).map((o) => o.node),
    [a.key]
  )
  t.alike(
    (await Q.offersByPrice(m.view)).map((o) => o.node),
    [b.key, a.key]
  )
  t.alike(
    (await Q.offersByPrice(m.view, { reverse: true, limit: 1 })).map((o) => o.node),
    [a.key]
  )
  t.alike(await Q.listOffers(m.view, { minAvailable: { cpu: 9000 } }), [])
  const r = await m.send(bot, 'bid', bidBody({ countries: ['DE'] }))
  t.alike(
    (await Q.listTrades(m.view, { node: a.key })).map((x) => x.id),
    [`${r.id}.0`]
  )
  t.alike(await Q.listTrades(m.view, { node: b.key }), [])
  t.alike(
    (await Q.listTrades(m.view, { bot: bot.key, state: 'matched' })).map((x) => x.id),
    [`${r.id}.0`]
  )
  t.alike(
    (await Q.listBids(m.view, { bot: bot.key })).map((x) => x.id),
    [r.id]
  )
  t.is(await Q.engineTime(m.view), m.clock)
})

test('with an offer TTL, an offer its node stopped renewing is not sold; renewing at the same prices keeps its place', async (t) => {
  const m = await Market.create({ offerTtl: HOUR })
  const gone = new Actor('gone')
  const alive = new Actor('alive')
  const bot = new Actor('bot')
  await m.send(gone, 'offer', offerBody({ prices: resources({ cpu: 100, memory: 10 }) }), {
    at: T0 + 10
  })
  await m.send(alive, 'offer', offerBody({ prices: resources({ cpu: 200, memory: 10 }) }), {
    at: T0 + 20
  })
  await m.send(alive, 'offer-update', offerBody({ prices: resources({ cpu: 200, memory: 10 }) }), {
    at: T0 + 2 * HOUR
  })
  const renewed = await Q.getOffer(m.view, alive.key)
  t.is(renewed?.time, T0 + 20, 'renewed at the same prices: its price-time place is kept')
  t.is(renewed?.renewed, T0 + 2 * HOUR, 'and the renewal is recorded')

  const r = await m.send(bot, 'bid', bidBody())
  t.is(
    (await Q.getTrade(m.view, `${r.id}.0`))?.node,
    alive.key,
    'the cheaper offer went stale: the renewed one is sold'
  )

  await m.send(gone, 'offer-update', offerBody({ prices: resources({ cpu: 100, memory: 10 }) }))
  const again = await m.send(bot, 'bid', bidBody())
  t.is(
    (await Q.getTrade(m.view, `${again.id}.0`))?.node,
    gone.key,
    'renewed, the cheaper offer sells again'
  )
})

test('without an offer TTL (0), offers never go stale', async (t) => {
  const m = await Market.create()
  const old = new Actor('old')
  const bot = new Actor('bot')
  await m.send(old, 'offer', offerBody(), { at: T0 + 10 })
  const r = await m.send(bot, 'bid', bidBody(), { at: T0 + 100 * HOUR })
  t.is((await Q.getTrade(m.view, `${r.id}.0`))?.node, old.key)
})
