/**
 * Avoiding nodes never leaves a heal with nothing to buy (the soak, seed 2700 on a867766: a CRM's heal excluded all 3
 * nodes of its region, one failed lease of its own and two of the bot's other deployments; its bids expired unfilled
 * for 280 s, then it gave up).
 */
import {
  FAST_MONITOR,
  healed,
  nextLine,
  moneyConserved,
  world,
  node,
  bot,
  serviceTemplate,
  sized,
  twoServices
} from './helpers/deploy'
import { testnet } from './helpers/net'
import { deploy, stop, waitRunning } from '../bot/deployment'
import type { Bot } from '../bot/bot'
import { settleWithin } from '../lib/timeout'
import { sandboxTest } from './helpers/sandbox'

/** Bounded: without the fix each heal's bids expire unfilled and it gives up (heal-failed), retried 30 s later in vain. */
const BOUND = 60_000

/** The first `n` heal outcomes (healed / heal-failed lines), or what came within `ms`. */
function heals(b: Bot, n: number, ms: number): Promise<string[]> {
  const seen: string[] = []
  const all = new Promise<string[]>((resolve) => {
    const on = (step: string, detail: string): void => {
      if (step !== 'healed' && step !== 'heal-failed') return
      seen.push(`${step}: ${detail}`)
      if (seen.length < n) return
      b.events.off('progress', on)
      resolve(seen)
    }
    b.events.on('progress', on)
  })
  return settleWithin(all, ms).then((x) => x ?? seen)
}

sandboxTest(
  'a heal whose every matching node is avoided (a lease of this bot failed on each) bids without avoiding them, and is settled',
  async (t) => {
    const w = await world(t, await testnet(t))
    const x = await node(t, w, sized(500, 8)) // the cheapest, room for one replica
    const y = await node(t, w, sized(1000, 10)) // room for two
    const b = await bot(t, w, {
      monitor: { ...FAST_MONITOR, avoidFor: 600_000 }, // avoided for the whole test
      trader: { bidWindow: 5000, attempts: 2, backoff: 100 }
    })
    const { da, db, la, lb } = await twoServices(t, b, x, y)

    // both leases failed: x and y are each avoided by both heals
    const lines: string[] = []
    b.events.on('progress', (step: string, detail: string) => {
      if (step === 'avoid') lines.push(detail)
    })
    await b.trader.end(da, la.id, 'fail', 'its node stopped')
    await b.trader.end(db, lb.id, 'fail', 'its node stopped')
    t.alike(
      [...(await b.monitor.avoided())].sort(),
      [x.key, y.key].sort(),
      'both nodes are avoided'
    )
    const done = heals(b, 2, BOUND)
    b.monitor.start()
    const what = await done
    t.alike(
      what.map((l) => l.split(':')[0]),
      ['healed', 'healed'],
      `both healed within ${BOUND / 1000} s: ${what.join('; ') || 'nothing'}`
    )
    t.ok(
      lines.some((l) => l.includes('every matching offer is from an avoided node')),
      `it says so: ${lines.join('; ')}`
    )
    // the node its own lease failed on is the last one given back: each goes to the other's
    for (const [d, lost, other] of [
      [da, la, y],
      [db, lb, x]
    ] as const) {
      const next = d.trades.filter((r) => r.replaces === lost.id && r.phase === 'settled')
      t.is(next.length, 1, `${d.id}: one replacement settled`)
      t.is(next[0]?.node, other.key, `${d.id}: on the node the other lease failed on`)
      if (next.length !== 1) continue
      const rows = await waitRunning(b, d, { deadline: Date.now() + BOUND })
      t.is(rows.find((r) => r.trade === next[0].id)?.state, 'running', `${d.id}: and it runs`)
    }
    t.ok((await moneyConserved(w)).ok, 'money conserved')
  }
)

sandboxTest(
  "a heal's bid looks at what it avoids again each time it is placed: the avoided node that gets room while it rests is bought",
  async (t) => {
    const w = await world(t, await testnet(t))
    const x = await node(t, w, sized(500, 8)) // each with room for one replica
    const y = await node(t, w, sized(500, 10))
    const b = await bot(t, w, {
      monitor: { ...FAST_MONITOR, avoidFor: 600_000 },
      trader: { bidWindow: 5000, attempts: 3, backoff: 100 }
    })
    const { da, la } = await twoServices(t, b, x, y)
    await b.trader.end(da, la.id, 'fail', 'its node stopped')
    // x's room is taken again at once: a's heal finds no room anywhere, and avoids x
    const dc = await deploy(b, { template: await serviceTemplate(t, { replicas: 1 }), id: 'c' })
    await waitRunning(b, dc)
    t.is(dc.trades[0]?.node, x.key, 'c took x')

    const rested = new Promise<boolean>((resolve) => {
      const on = (step: string, _detail: string, about?: string): void => {
        if (step !== 'rebid' || about !== da.id) return
        b.events.off('progress', on)
        resolve(true)
      }
      b.events.on('progress', on)
    })
    const done = healed(b)
    b.monitor.start()
    t.ok(await settleWithin(rested, BOUND), "a's first replacement bid rested unfilled")
    await stop(b, dc) // x has room again: still avoided, but the only node that fits
    const what = (await settleWithin(done, BOUND)) ?? `not healed within ${BOUND / 1000} s`
    t.ok(what.startsWith('healed'), what)
    const next = da.trades.filter((r) => r.replaces === la.id && r.phase === 'settled')
    t.alike(
      next.map((r) => r.node),
      [x.key],
      'bought on x'
    )
  }
)

sandboxTest(
  'a heal that finds no offer at all bids without avoiding: the avoided node that sells again fills it',
  { timeout: 120_000 },
  async (t) => {
    const w = await world(t, await testnet(t))
    const data = await t.tmp()
    const x = await node(t, w, { ...sized(500, 8), data })
    const b = await bot(t, w, {
      monitor: { ...FAST_MONITOR, avoidFor: 600_000 }, // x, where the lease failed, avoided for the whole test
      trader: { bidWindow: 30_000, attempts: 1, backoff: 100 }
    })
    const d = await deploy(b, { template: await serviceTemplate(t, { replicas: 1 }) })
    await waitRunning(b, d)
    const lease = d.trades[0]

    // x goes, its offer withdrawn: the heal's bid finds no offer at all, and rests
    const bidding = nextLine(b, 'bid')
    t.ok(await x.withdraw(), "x's offer is withdrawn")
    await x.close()
    const ends = heals(b, 1, BOUND)
    b.monitor.start()
    await bidding
    // x comes back on its data dir and sells again, while the bid rests
    const again = await node(t, w, { ...sized(500, 8), data })
    const [end] = await ends
    t.ok(
      end?.startsWith('healed'),
      `healed by the bid that rested: ${end ?? 'nothing within the bound'}`
    )
    const next = d.trades.find((r) => r.replaces === lease.id && r.phase === 'settled')
    t.is(next?.node, again.key, 'on x, back')
  }
)
