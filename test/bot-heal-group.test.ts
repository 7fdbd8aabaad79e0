/**
 * Two holders of one archive group lost at once are replaced on two distinct nodes, neither one that holds a shard of
 * the group (the soak, seed 2700: botB's two heals of one group bid 40 ms apart and both filled on the same node, as
 * each bid excluded the group's holders but not the node the other heal was buying). So are two replicas of one
 * spread service.
 */
import test from 'brittle'
import { testnet } from './helpers/net'
import { archiveWorld } from './helpers/archive'
import { catalogOf } from '../bot/archive-deploy'
import type { Bot } from '../bot/bot'
import type { DeploymentRecord } from '../bot/records'
import { settleWithin } from '../lib/timeout'
import { FAST_MONITOR, bot, node, serviceTemplate, sized, world } from './helpers/deploy'
import { sandboxTest } from './helpers/sandbox'
import { deploy, waitRunning } from '../bot/deployment'

/** Once each of `lost` has a settled replacement; past `ms`, the heal lines seen instead (where it stopped). */
async function replaced(b: Bot, d: DeploymentRecord, lost: string[], ms: number): Promise<string> {
  const seen: string[] = []
  const done = (): boolean =>
    lost.every((id) => d.trades.some((x) => x.replaces === id && x.phase === 'settled'))
  let on = (_step: string, _detail: string): void => {}
  const all = new Promise<string>((resolve) => {
    on = (step, detail) => {
      if (step.startsWith('heal') || step === 'repair' || step === 'trade')
        seen.push(`${step}: ${detail}`)
      if (done()) resolve('replaced')
    }
    b.events.on('progress', on)
  })
  try {
    return (await settleWithin(all, ms)) ?? `not both replaced in ${ms} ms: ${seen.join('; ')}`
  } finally {
    b.events.off('progress', on)
  }
}

test(
  'two holders of one group lost at once are replaced on two distinct nodes outside the group',
  { timeout: 240_000 },
  async (t) => {
    const net = await testnet(t)
    // one group of 4 + 2 holders on 6 of the 8 nodes: two spares, each with room for both shards
    const a = await archiveWorld(t, net, { count: 8 })
    const writer = await a.bot.writer(a.d)
    const catalog = catalogOf(writer)
    t.is(catalog?.holders.length, 1, 'one group')
    const holders = a.d.trades.filter((x) => x.phase === 'settled')
    t.is(holders.length, 6, 'of 6 holders')
    const group = new Set(holders.map((x) => x.node))
    t.is(group.size, 6, 'each on its own node')
    t.is(a.nodes.filter((n) => !group.has(n.key)).length, 2, 'two spare nodes')

    // both nodes go together: their silence passes the grace in the same check, both heals bid at once
    const lost = holders.slice(0, 2)
    const both = replaced(
      a.bot,
      a.d,
      lost.map((x) => x.id),
      150_000
    )
    for (const x of lost) await a.nodes.find((n) => n.key === x.node)?.close()
    a.bot.monitor.start()
    const end = await both
    t.is(end, 'replaced', 'both lost holders are replaced')

    const fresh = a.d.trades.filter(
      (x) => lost.some((l) => l.id === x.replaces) && x.phase === 'settled'
    )
    const nodes = fresh.map((x) => x.node)
    t.is(
      new Set(nodes).size,
      2,
      `on two distinct nodes: ${nodes.map((n) => n.slice(0, 8)).join(', ')}`
    )
    t.ok(
      nodes.every((n) => !group.has(n)),
      'neither on a node that held a shard of the group'
    )
    const now = catalogOf(writer)?.holders[0] ?? []
    t.ok(
      fresh.every((x) => now.includes(x.id)),
      'the catalog names both as holders of the group'
    )
  }
)

sandboxTest(
  'two replicas of a spread service lost at once are replaced on two distinct nodes',
  { timeout: 240_000 },
  async (t) => {
    const w = await world(t, await testnet(t))
    const x = await node(t, w, sized(500, 5))
    const y = await node(t, w, sized(500, 6))
    const b = await bot(t, w, { monitor: FAST_MONITOR })
    const d = await deploy(b, { template: await serviceTemplate(t, { replicas: 2 }) })
    await waitRunning(b, d)
    const lost = d.trades.filter((r) => r.phase === 'settled')
    t.alike(lost.map((r) => r.node).sort(), [x.key, y.key].sort(), 'one replica on x, one on y')
    // two spares with room for both replicas: the cheaper one fits both heals' bids
    const z1 = await node(t, w, sized(1000, 10))
    const z2 = await node(t, w, sized(1000, 20))

    const both = replaced(
      b,
      d,
      lost.map((r) => r.id),
      150_000
    )
    await Promise.all([x.close(), y.close()])
    b.monitor.start()
    t.is(await both, 'replaced', 'both lost replicas are replaced')
    const nodes = d.trades
      .filter((r) => lost.some((l) => l.id === r.replaces) && r.phase === 'settled')
      .map((r) => r.node)
    t.alike(nodes.sort(), [z1.key, z2.key].sort(), 'on the two spares, one each')
    const rows = await waitRunning(b, d)
    t.is(rows.filter((r) => r.state === 'running').length, 2, 'both run')
  }
)
