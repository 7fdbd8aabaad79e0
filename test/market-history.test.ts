import test from 'brittle'
import b4a from 'b4a'
import { GiB } from '../lib/resources'
import { tradeFlows, mergeFlows, priceSummaries, gaugesAt, renewals } from '../market/history'
import { roundPrice } from '../market/engine/history'
import { HISTORY } from '../market/engine/keys'
import { Market, Actor, offerBody, bidBody, resources, HOUR, T0 } from './helpers/market'

const contract = b4a.alloc(32, 7)
const manifest = b4a.alloc(32, 9)

/** Nodes at cpu prices 10, 20 and 30 per core-hour; one bid that fills each in turn (cheapest first). */
async function threePrices(): Promise<{ m: Market; bot: Actor; trades: string[] }> {
  const m = await Market.create()
  const bot = new Actor('bot')
  await m.fund(bot, 1_000_000)
  for (const cpu of [10, 20, 30])
    await m.send(
      new Actor(`node-${cpu}`),
      'offer',
      offerBody({
        resources: resources({ cpu: 1000, memory: 4 * GiB }),
        prices: resources({ cpu, memory: 1 })
      })
    )
  const trades: string[] = []
  for (let i = 0; i < 3; i++) {
    const r = await m.send(
      bot,
      'bid',
      bidBody({ resources: resources({ cpu: 1000, memory: GiB }) })
    )
    trades.push(...r.outcome.trades)
  }
  return { m, bot, trades }
}

test('history: each minute and hour keeps the trades matched, their unit prices and the volume settled', async (t) => {
  const { m, bot, trades } = await threePrices()
  t.is(trades.length, 3)
  await m.send(bot, 'settle', { trade: trades[0], contract, manifest })
  const [minute] = await tradeFlows(m.view, 'minute', 0, Number.MAX_SAFE_INTEGER)
  t.is(minute.start, T0 - (T0 % HISTORY.minute))
  t.is(minute.matched, 3)
  t.is(minute.settled, 1)
  t.is(minute.value, 11, 'one core and one GiB at 10 + 1 for an hour')
  const p = priceSummaries(minute)
  t.alike(p.cpu, { trades: 3, min: 10, median: 20, max: 30 })
  t.alike(p.memory, { trades: 3, min: 1, median: 1, max: 1 })
  t.is(p.ssd, undefined, 'no trade bought ssd')
  const hours = await tradeFlows(m.view, 'hour', 0, Number.MAX_SAFE_INTEGER)
  t.is(hours.length, 1)
  t.alike(priceSummaries(hours[0]), p, 'the hour holds what its minutes hold')
})

test('history: buckets of a later minute are separate, and merging them gives the range', async (t) => {
  const { m, bot } = await threePrices()
  await m.send(
    new Actor('node-40'),
    'offer',
    offerBody({
      resources: resources({ cpu: 1000, memory: 4 * GiB }),
      prices: resources({ cpu: 40, memory: 1 })
    }),
    { at: T0 + 5 * 60_000 }
  )
  await m.send(bot, 'bid', bidBody({ resources: resources({ cpu: 1000, memory: GiB }) }))
  const minutes = await tradeFlows(m.view, 'minute', 0, Number.MAX_SAFE_INTEGER)
  t.is(minutes.length, 2)
  t.is(minutes[1].matched, 1)
  t.alike(priceSummaries(minutes[1]).cpu, { trades: 1, min: 40, median: 40, max: 40 })
  const all = priceSummaries(mergeFlows(minutes)).cpu
  t.alike(all, { trades: 4, min: 10, median: 20, max: 40 })
  const from = minutes[1].start
  t.is(
    (await tradeFlows(m.view, 'minute', from, from + 60_000)).length,
    1,
    'a range reads only its buckets'
  )
})

test('history: prices above 255 keep 8 significant bits, the extremes stay exact', async (t) => {
  t.is(roundPrice(255), 255)
  t.is(roundPrice(1000), 1000)
  t.is(roundPrice(1001), 1000)
  t.is(roundPrice(100_003), 99_840)
  t.ok(Math.abs(roundPrice(123_456_789) - 123_456_789) / 123_456_789 < 1 / 256)
})

test('history: the gauges at the end of each hour, and as an hour began', async (t) => {
  const { m, bot, trades } = await threePrices()
  t.is(await gaugesAt(m.view, T0 - HOUR), null, 'before the market began')
  await m.send(bot, 'settle', { trade: trades[0], contract, manifest })
  const now = await gaugesAt(m.view, m.clock + 5 * HOUR)
  t.is(now?.offers, 3, 'no op since: the state now')
  t.is(now?.leases, 1)
  // an op two hours later writes the gauges the market had at the end of the hour before
  await m.send(bot, 'settle', { trade: trades[1], contract, manifest }, { at: T0 + 2 * HOUR })
  const before = await gaugesAt(m.view, T0 + 2 * HOUR)
  t.is(before?.leases, 1, 'the second lease came after that hour')
  t.is(before?.capacity.cpu, 3000)
  t.is(before?.free.cpu, 0, 'every core was matched')
})

test('history: a node marks each hour in which it renewed its offer, once', async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  await m.send(node, 'offer', offerBody())
  await m.send(node, 'offer-update', offerBody(), { at: T0 + 10 * 60_000 })
  await m.send(node, 'offer-update', offerBody(), { at: T0 + HOUR + 60_000 })
  await m.send(node, 'offer-update', offerBody(), { at: T0 + 3 * HOUR })
  const hours = await renewals(m.view, node.key, 0, Number.MAX_SAFE_INTEGER)
  const h = (t0: number): number => t0 - (t0 % HOUR)
  t.alike(hours, [h(T0), h(T0 + HOUR + 60_000), h(T0 + 3 * HOUR)])
  t.alike(await renewals(m.view, node.key, T0 + HOUR, T0 + 2 * HOUR), [h(T0 + HOUR)])
})
