/**
 * Buying through what the soak found: trades the market released before the bot settled them (it was killed, paused
 * or cut off past the settlement window) are bought again, and a market whose engine time runs ahead of this
 * machine's clock (its indexer's clock is ahead) still takes the bot's bids.
 */
import { testnet } from './helpers/net'
import { world, node, bot, serviceTemplate, moneyConserved, dieAt } from './helpers/deploy'
import { until } from './helpers/ledger'
import { deploy, resume, waitRunning } from '../bot/deployment'
import { sandboxTest } from './helpers/sandbox'
import { generateKeyPair } from '../lib/identity'

sandboxTest(
  'trades released unsettled while the bot was down are bought again on resume, and the deployment runs',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net, { settlementWindow: 3000 })
    await node(t, w)
    const data = await t.tmp()
    const file = await serviceTemplate(t, { replicas: 1 })

    const first = await bot(t, w, { data })
    dieAt(first, 'trade') // killed once it has its trade, before it settles
    await t.exception(deploy(first, { template: file, id: 'lapsed' }), /killed/, 'killed mid-trade')
    const matched = first.state.find('lapsed').trades[0]
    await first.close()

    // the settlement window passes; the next op moves engine time and releases the trade
    await new Promise((resolve) => setTimeout(resolve, 3500))
    const someone = generateKeyPair().publicKey
    await w.founder.client.submitAndWait([{ type: 'deposit', body: { to: someone, amount: 1 } }])
    await until(
      w.founder,
      async () => (await w.founder.client.trade(matched.id))?.state === 'released'
    )

    const second = await bot(t, w, { data })
    const d = second.state.find('lapsed')
    await resume(second, d) // before: the header named no trade, the deployment "ran" with no replica
    t.is(d.phase, 'running')
    t.is(
      d.trades.find((x) => x.id === matched.id)?.phase,
      'released',
      'the lapsed trade is released'
    )
    const again = d.trades.find((x) => x.replaces === matched.id)
    t.is(again?.phase, 'settled', 'a trade bought in its place is settled')
    const rows = await waitRunning(second, d)
    t.alike(
      rows.map((r) => r.state),
      ['running'],
      'and its replica runs'
    )
    t.ok((await moneyConserved(w)).ok, 'money is conserved')
  }
)

sandboxTest(
  "a market whose engine time runs ahead of the bot's clock (its indexer's clock ahead) takes the bot's bid",
  async (t) => {
    const net = await testnet(t)
    // A peer's clock ahead no longer moves the market (its indexers refuse what is stamped past their clocks and
    // every peer seals with the indexers' time), but an indexer's clock ahead still does: this one's is 3 minutes.
    const w = await world(t, net, { now: () => Date.now() + 3 * 60_000 })
    await node(t, w)
    const b = await bot(t, w)
    t.ok(
      (await b.client.time()) > Date.now() + 2 * 60_000,
      'the market is minutes ahead of the clock'
    )
    // before: a bid expiring a minute after this clock was refused (invalid: before the engine time), for good
    const d = await deploy(b, { template: await serviceTemplate(t, { replicas: 1 }) })
    t.is(d.phase, 'running')
    const rows = await waitRunning(b, d)
    t.alike(
      rows.map((r) => r.state),
      ['running'],
      'its replica runs'
    )
  }
)
