import { testnet } from './helpers/net'
import { world, node, bot, jobTemplate, nodeState } from './helpers/deploy'
import { sandboxTest } from './helpers/sandbox'
import { deploy } from '../bot/deployment'
import { workloadId } from '../lib/trade-workload'
import { lastStatus } from '../lib/status'
import { settleWithin } from '../lib/timeout'
import { until } from './helpers/ledger'

// The soak (seed 27): a node killed just after its job exited signed "verifying" for it once restarted, after the
// exit; its bot, which had not read the exit yet, never ended the lease, and the job counted as down for good.
sandboxTest(
  'a node restarted after its job exited keeps the signed exit as the last word: a bot that reads it only then ends the lease',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const data = await t.tmp()
    const n = await node(t, w, { data })
    const botData = await t.tmp()
    const first = await bot(t, w, { data: botData }) // its monitor never runs: nobody reads the exit yet
    const d = await deploy(first, { template: await jobTemplate(t) })
    const trade = d.trades[0]
    const id = workloadId(trade)
    await nodeState(n, trade.id, (s) => s === 'exited')
    await first.close()

    await n.close()
    const again = await node(t, w, { data, workloads: n.supervisor.root })
    // the lease is taken up again (a "verifying" note would come at once)
    await settleWithin(
      nodeState(again, trade.id, (s) => s !== null),
      5000
    )
    const { record } = await lastStatus(again.status.status, again.identity.publicKey, id)
    t.is(record?.body.state, 'exited', "the node's last signed state of the job is still its exit")

    const b = await bot(t, w, { data: botData })
    b.monitor.start()
    const closed = await settleWithin(
      until(w.founder, async () => (await w.founder.client.trade(trade.id))?.state === 'closed'),
      60_000
    )
    t.ok(closed !== null, 'the restarted bot ends the lease at the exit (closed)')
  }
)
