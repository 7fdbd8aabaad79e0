import test from 'brittle'
import { testnet } from './helpers/net'
import { until, withFinal } from './helpers/ledger'
import {
  peerBot,
  node,
  workload,
  manifest,
  buy,
  contract,
  settle,
  fileOf,
  nodeTransition,
  keyOf,
  HOUR,
  nodeScene
} from './helpers/node-bot'
import { ZERO } from '../lib/resources'
import * as Q from '../market/queries'
import { claimable } from '../node/payout'
import { workloadId } from '../lib/trade-workload'
import type { Outcome, Trade } from '../market/types'
import type { NodeDaemon } from '../node/daemon'
import { sandboxTest } from './helpers/sandbox'

// 3.6M per core-hour: a 500m lease earns about one unit per 2 ms, so every claim pays something.
const PRICES = { ...ZERO, cpu: 3_600_000 }

function claimed(n: NodeDaemon): Promise<Outcome[]> {
  return new Promise((resolve) => n.payouts.once('claimed', resolve))
}

sandboxTest(
  "the node claims its running lease's pay periodically: its balance grows and money is conserved",
  async (t) => {
    const { b, n } = await nodeScene(t, { prices: PRICES, claimInterval: 100 })
    const me = keyOf(n)
    const code = 'setInterval(() => {}, 1000)'
    const m = manifest(
      workload({
        kind: 'service',
        restart: 'always',
        budget: 2_000_000,
        files: [await fileOf(t, 'main.js', code)]
      })
    )
    const trade = await buy(b, m)
    const w = await contract(t, b, m, [trade], { 'main.js': code })
    const running = nodeTransition(
      n,
      workloadId({ id: trade } as Trade),
      (tr) => tr.state === 'running'
    )
    await settle(b, trade, w, m)
    await running
    const grows = async (from: number): Promise<number> => {
      for (;;) {
        const outcomes = await claimed(n)
        t.ok(outcomes.length === 1 && outcomes[0].accepted, 'one claim per batch, accepted')
        const now = await n.peer.client.balance(me)
        if (now > from) return now
      }
    }
    const after1 = await grows(await n.peer.client.balance(me))
    t.ok(after1 > 0, `the node's balance grew to ${after1}`)
    const after2 = await grows(after1)
    t.ok(after2 > after1, `and again, to ${after2}`)

    await n.payouts.close() // no claim lands between the two reads below
    const held = await n.peer.client.balance(me)
    const tr = (await n.peer.client.trade(trade)) as Trade
    t.is(tr.paid, held, 'what the trade paid is what the node holds')
    t.is(tr.paid + tr.escrow, 1_800_000, "paid + escrow is the lease's cost: nothing created")
    await until(b.peer, async () => (await b.peer.client.balance(me)) >= after2)
    const s = await withFinal(b.peer, (view) => Q.stats(view))
    t.is(s.balances + s.escrow, s.minted, `money is conserved (${s.minted} minted)`)
  }
)

test("claimable follows the engine's rule: pro rata from the start, capped by the escrow, less what was paid", (t) => {
  const trade = {
    state: 'settled',
    start: 1000,
    end: 1000 + HOUR,
    price: 3600,
    escrow: 3600,
    paid: 0
  } as Trade
  t.is(claimable(trade, 1000), 0, 'nothing at the start')
  t.is(claimable(trade, 1000 + HOUR / 2), 1800, 'half at half time')
  t.is(claimable({ ...trade, paid: 1800, escrow: 1800 }, 1000 + HOUR / 2), 0, 'nothing twice')
  t.is(claimable(trade, 1000 + 2 * HOUR), 3600, 'never past the end')
  t.is(claimable({ ...trade, state: 'closed' }, 1000 + HOUR), 0, 'only running leases')
})

sandboxTest('a node with claims off never claims', async (t) => {
  const net = await testnet(t)
  const b = await peerBot(t, net)
  const n = await node(t, net, b, { claimInterval: 0 })
  t.is(n.payouts.interval, 0)
  t.alike(await n.payouts.claim(), [], 'nothing due: no ops')
})
