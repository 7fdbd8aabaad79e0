import { testnet } from './helpers/net'
import { until } from './helpers/ledger'
import { world, node, bot, jobTemplate } from './helpers/deploy'
import { sandboxTest } from './helpers/sandbox'
import { ZERO } from '../lib/resources'
import { deploy, waitRunning } from '../bot/deployment'
import { HyperbeeView } from '../market/hyperbee-view'
import { offerRows, nodeRows, marketStats } from '../market/explorer/model'

const TTL = 3000

sandboxTest(
  'in a market with an offer TTL, a node keeps renewing its offer, and a node that died is not sold',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net, { offerTtl: TTL })
    const dead = await node(t, w, { prices: { ...ZERO, cpu: 1, memory: 1 } })
    const alive = await node(t, w)
    const first = await w.founder.client.offer(alive.key)
    await until(
      w.founder,
      async () => ((await w.founder.client.offer(alive.key))?.renewed ?? 0) > (first?.renewed ?? 0)
    )
    const later = await w.founder.client.offer(alive.key)
    t.ok(
      (later?.renewed ?? 0) > (first?.renewed ?? 0) && later?.time === first?.time,
      'the running node renewed its offer, keeping its place'
    )

    await dead.close() // as a crash: no withdrawal
    // Engine time moves with the ops the market takes: the live node's renewals carry it past the TTL.
    // The dead node's offer is read each time: a renewal it sent as it closed may land after the close.
    await until(
      w.founder,
      async () =>
        (await w.founder.client.time()) >
        ((await w.founder.client.offer(dead.key))?.renewed ?? 0) + TTL
    )
    t.is(
      (await w.founder.client.offer(dead.key))?.withdrawn,
      false,
      "the dead node's cheaper offer is still in the book"
    )
    // The explorer, by this machine's clock, says the same: lapsed, not for sale.
    const view = HyperbeeView.reading(w.founder.ledger.view)
    t.alike(
      (await offerRows(view, {})).map((o) => o.node),
      [alive.key],
      'the explorer lists the live offer only'
    )
    t.is((await offerRows(view, { all: true })).length, 2, 'and the lapsed one with --all')
    const rows = await nodeRows(view, { all: true })
    t.is(rows.find((r) => r.node === dead.key)?.offer, 'lapsed', "the dead node's offer is lapsed")
    const stats = await marketStats(view)
    t.alike([stats.nodes.offers, stats.nodes.lapsed], [1, 1], 'stats count it lapsed, not offering')

    const b = await bot(t, w)
    const d = await deploy(b, { template: await jobTemplate(t) })
    const [row] = await waitRunning(b, d)
    t.is(row.node, alive.key, 'but the bot bought from the node that renews')
  }
)
