/**
 * A trade is settled only with a node the bot reaches (the soak, seed 2700 on 0c1768f: heals bought nodes cut off
 * from every peer, their offers still listed, and waited out a grace each for a replica that never started).
 */
import type { Assert } from 'brittle'
import { ZERO, MiB } from '../lib/resources'
import {
  FAST_MONITOR,
  healed,
  moneyConserved,
  node,
  world,
  bot,
  serviceTemplate
} from './helpers/deploy'
import { testnet, cutDHT } from './helpers/net'
import { deploy, waitRunning } from '../bot/deployment'
import type { Bot, BotOptions } from '../bot/bot'
import type { NodeDaemon } from '../node/daemon'
import type { DeploymentRecord } from '../bot/records'
import { sandboxTest } from './helpers/sandbox'

/** A node for one or two replicas at `price` per cpu unit: the cheapest one matches first. */
const priced = (price: number) => ({
  capacity: { ...ZERO, cpu: 1000, memory: 2048 * MiB, ssd: 1024 * MiB },
  prices: { ...ZERO, cpu: price, memory: 1 }
})

/** A bounded wait: without the fix the replica is on a node the bot cannot reach, and never reported running. */
const BOUND = 60_000

/** The trade bought on `node` was closed unsettled, in the bot's records and in the market. */
async function closedUnsettled(
  t: Assert,
  b: Bot,
  d: DeploymentRecord,
  node: string
): Promise<void> {
  const on = d.trades.filter((x) => x.node === node)
  t.is(on.length, 1, 'one trade was bought on the unreachable node')
  t.is(on[0]?.phase, 'closed', 'closed in the records')
  t.ok(on[0]?.unreached !== undefined, 'marked unreached')
  const m = await b.client.trade(on[0]?.id ?? '')
  t.is(m?.state, 'closed', 'closed in the market, never settled')
}

/**
 * A market with a node per price (cheapest first) and a funded bot whose streams with the nodes named by `cutFrom`
 * fail, though those nodes sell and talk to the market: their offers stay listed.
 */
async function scene(
  t: Assert,
  prices: number[],
  over: Partial<BotOptions> & { fund?: number } = {}
) {
  const net = await testnet(t)
  const w = await world(t, net)
  const nodes: NodeDaemon[] = []
  for (const p of prices) nodes.push(await node(t, w, priced(p)))
  const cut = cutDHT(net)
  const b = await bot(t, w, {
    dht: cut.dht,
    trader: { bidWindow: 30_000, attempts: 2, backoff: 100, reachTimeout: 3000 },
    ...over
  })
  return { w, nodes, cut, b }
}

function said(b: Bot, step: string): string[] {
  const lines: string[] = []
  b.events.on('progress', (s: string, detail: string) => {
    if (s === step) lines.push(detail)
  })
  return lines
}

sandboxTest(
  'a deploy whose cheapest offer is from a node the bot cannot reach closes that trade unsettled and settles on the next',
  async (t) => {
    const { w, nodes, cut, b } = await scene(t, [8, 10])
    const [x, y] = nodes
    cut.cutFrom(x.key)
    const lines = said(b, 'unreachable')
    const d = await deploy(b, { template: await serviceTemplate(t, { replicas: 1 }), id: 'web' })

    const settled = d.trades.filter((r) => r.phase === 'settled')
    t.alike(
      settled.map((r) => r.node),
      [y.key],
      'settled on the node it reaches only'
    )
    await closedUnsettled(t, b, d, x.key)
    t.ok(
      lines.some((l) => l.includes(`trade ${d.trades[0]?.id ?? ''} closed unsettled`)),
      `it says so: ${lines.join('; ')}`
    )
    if (settled[0]?.node === y.key) {
      const rows = await waitRunning(b, d, { deadline: Date.now() + BOUND })
      t.is(rows.find((r) => r.trade === settled[0]?.id)?.state, 'running', 'and it runs there')
    }
    t.ok((await moneyConserved(w)).ok, 'money conserved')
  }
)

type Scene = Awaited<ReturnType<typeof scene>>

/**
 * A replica running on x, the cheapest of three nodes (x, y, z), then its lease failed after `before` ran, the monitor
 * started: what the heal said (its `healed` or `heal-failed` line).
 */
async function healAfter(t: Assert, before: (s: Scene & { y: NodeDaemon; z: NodeDaemon }) => void) {
  const s = await scene(t, [8, 10, 12], { monitor: { ...FAST_MONITOR, avoidFor: 60_000 } })
  const [x, y, z] = s.nodes
  const { b } = s
  const d = await deploy(b, { template: await serviceTemplate(t, { replicas: 1 }), id: 'web' })
  await waitRunning(b, d, { deadline: Date.now() + BOUND })
  const lost = d.trades[0]
  t.is(lost.node, x.key, 'the lease on the cheapest node')
  before({ ...s, y, z })
  const lines = said(b, 'unreachable')
  const done = healed(b)
  await b.trader.end(d, lost.id, 'fail', 'its node stopped')
  b.monitor.start()
  return { ...s, y, z, d, lost, lines, what: await done }
}

sandboxTest(
  'a heal buys from a node the bot holds a connection to before a cheaper one it is cut off from',
  async (t) => {
    const { b, z, d, lost, lines, what } = await healAfter(t, ({ cut, y, z, b }) => {
      t.ok(b.linked().has(z.key), 'the bot is connected to z')
      cut.cutFrom(y.key) // y still sells, the next cheapest once x is left
    })
    t.ok(what.startsWith('healed'), what)
    t.alike(
      d.trades.filter((r) => r.replaces === lost.id).map((r) => [r.node, r.phase]),
      [[z.key, 'settled']],
      'one trade replaces the lease, settled on z: y never bought'
    )
    t.alike(lines, [], 'no reach timeout spent')
    const next = d.trades.find((r) => r.replaces === lost.id && r.phase === 'settled')
    if (next?.node === z.key) {
      const rows = await waitRunning(b, d, { deadline: Date.now() + BOUND })
      t.is(rows.find((r) => r.trade === next.id)?.state, 'running', 'and it runs there')
    }
  }
)

sandboxTest(
  'a heal connected to no node that fits tries each in turn, closes what it cannot reach and keeps off it',
  async (t) => {
    // both still sell: only x, left by the heal, is connected
    const { b, y, z, d, lost, what } = await healAfter(t, ({ cut, y, z }) =>
      cut.cutFrom(y.key, z.key)
    )
    t.ok(what.startsWith('heal-failed') && what.includes('unreachable'), what)
    await closedUnsettled(t, b, d, y.key)
    await closedUnsettled(t, b, d, z.key)
    const rec = d.bids.find((r) => r.replaces === lost.id)
    t.ok(rec?.hard?.includes(y.key), "the heal's bid kept off y once it was not reached")
  }
)

sandboxTest(
  'a bot that reaches no node settles nothing: one trade closed per attempt, then the deploy fails, its money untouched',
  async (t) => {
    const funds = 1_000_000
    const { w, nodes, cut, b } = await scene(t, [8, 10], { fund: funds })
    const [x, y] = nodes
    cut.cutFrom(x.key, y.key)
    const template = await serviceTemplate(t, { replicas: 1 })
    const err = await deploy(b, { template, id: 'web' }).then(
      () => null,
      (e: Error) => e
    )
    t.ok(err?.message.includes('unreachable'), `the deploy fails: ${err?.message ?? 'it did not'}`)
    const d = b.state.get('web')
    if (!d) return t.fail('no deployment record')
    t.alike(
      d.trades.map((r) => [r.node, r.phase]),
      [
        [x.key, 'closed'],
        [y.key, 'closed']
      ],
      'one trade per attempt, each closed unsettled'
    )
    t.is(d.phase, 'failed')
    t.is(await b.client.balance(b.key), funds, 'no money moved')
    t.ok((await moneyConserved(w)).ok, 'money conserved')
  }
)
