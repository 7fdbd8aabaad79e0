import test from 'brittle'
import { bot, killedAfterContract } from './helpers/deploy'
import { planBids } from '../bot/manifest'

test('a bid recorded as submitted that never reached the market is bid again once the market passes its expiry', async (t) => {
  const { w, data } = await killedAfterContract(t, 'lost')

  // What the soak (seed 2700) left: a bid op sent, no final outcome, then refused by the indexers as past its expiry
  // when it reached them after a cut and a kill. The record says submitted; the market has no such bid, and its
  // time is past the expiry, so it never will have.
  const second = await bot(t, w, { data })
  const d = second.state.find('lost')
  t.is(d.bids.length, 0, 'no bid planned yet')
  const market = await second.client.time()
  const [planned] = planBids(second.manifestOf(d), { expiry: market - 1 })
  const rec = second.trader.plan(d, planned.workload, planned.body)
  const lost = `${String(market - 1000).padStart(16, '0')}-${'y'.repeat(52)}`
  rec.id = lost
  rec.phase = 'submitted'
  rec.body = { ...rec.body, expiry: market - 1 }
  second.state.save()
  t.is(await second.client.bid(lost), null, 'the market has no such bid')

  const lines: string[] = []
  second.events.on('progress', (step: string, detail: string) => lines.push(`${step} ${detail}`))
  const trades = await second.trader.fill(d)
  t.is(trades.length, 1, 'the bid placed again filled')
  t.is(d.bids[0].phase, 'filled')
  t.not(d.bids[0].id, lost, 'a new bid, not the lost one')
  t.ok(
    lines.some((l) => l.startsWith('lapsed') && l.includes('never reached the market')),
    'the bot says why it bid again'
  )
  const placed = await second.client.bids({ bot: second.key })
  t.is(placed.length, 1, 'one bid in the market')
})
