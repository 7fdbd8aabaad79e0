import test from 'brittle'
import { bot, killedAfterContract } from './helpers/deploy'
import { resume } from '../bot/deployment'
import { planBids } from '../bot/manifest'

test('a deploy resumed after its bids gave up unfilled fails, rather than running with no replica', async (t) => {
  const { w, data } = await killedAfterContract(t, 'gave-up')

  // What the soak (seed 2700 on dd24d75) left: the bid given up on unreachable nodes (its trades closed unsettled),
  // and the bot killed while it abandoned the deployment, still 'trading'.
  const second = await bot(t, w, { data })
  const d = second.state.find('gave-up')
  const [planned] = planBids(second.manifestOf(d), { expiry: Date.now() + 60_000 })
  const rec = second.trader.plan(d, planned.workload, planned.body)
  rec.phase = 'cancelled'
  rec.reason = 'nodes unreachable from this bot: x9wz31y7'
  second.state.save()

  await t.exception(
    resume(second, d),
    /no lease of app was bought: nodes unreachable from this bot: x9wz31y7/,
    'it fails, saying why'
  )
  t.is(d.phase, 'failed', 'recorded failed: nothing runs, nothing to heal')
  t.is((await second.client.bids({ bot: second.key })).length, 0, 'no bid placed')
})
