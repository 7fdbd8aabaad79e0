import test from 'brittle'
import { loadTemplate } from '../bot/template'
import { instantiate } from '../bot/manifest'
import { planInstance } from '../bot/archive-plan'
import { ZERO, GiB, TiB } from '../lib/resources'
import { isScitError } from '../lib/errors'
import type { Offer } from '../market/types'
import { EXAMPLE, hddOffer } from './helpers/archive'

async function plan(set: Record<string, string>, offers: Offer[]) {
  const inst = await instantiate(loadTemplate(EXAMPLE), { country: 'CH', ...set })
  return planInstance({ offers: async () => offers }, inst)
}

test('1 PB in CH against 2,000 offers: groups, distinct nodes, 1.5× overhead and a price a month', async (t) => {
  const offers = Array.from({ length: 2000 }, (_, i) => hddOffer(i))
  const { inst, plans } = await plan({ capacity: '1PB' }, offers)
  const p = plans[0]
  t.ok(p.groups >= 100 && p.groups <= 1000, `a few hundred groups: ${p.groups}`)
  t.is(p.holders, p.groups * 30, 'a holder per shard of each group (20+10)')
  t.ok(p.nodes >= 30 && p.nodes <= 2000, `on ${p.nodes} distinct nodes`)
  t.is(p.overhead, 1.5)
  t.ok(p.groups * 20 * p.shard >= 1e15, 'the groups hold the petabyte')
  t.ok(p.perMonth === p.perHour * 730 && p.perHour > 0, `${p.perMonth} a month`)
  t.is(inst.manifest.workloads[0].replicas, p.holders, 'the manifest buys what the plan says')
})

test('shards shrink (more groups) when the nodes have less room than the template allows', async (t) => {
  const small = Array.from({ length: 40 }, (_, i) =>
    hddOffer(i, { available: { ...ZERO, hdd: 60 * GiB } })
  )
  const { plans } = await plan({ capacity: '1TB', data: '4', parity: '2' }, small)
  t.ok(plans[0].shard <= 60 * GiB, `a shard fits a node's 60 GiB: ${plans[0].shard}`)
  t.ok(plans[0].groups > 1, `${plans[0].groups} groups`)
})

test('refusals say what was needed, what the market has and the fix', async (t) => {
  const refused = async (set: Record<string, string>, offers: Offer[]): Promise<string> => {
    try {
      await plan(set, offers)
      return 'planned'
    } catch (err) {
      t.ok(isScitError(err, 'CAPACITY'), (err as Error).message)
      return (err as Error).message
    }
  }
  const ssdOnly = Array.from({ length: 5 }, (_, i) =>
    hddOffer(i, {
      attributes: ['ssd'],
      resources: { ...ZERO, ssd: TiB },
      available: { ...ZERO, ssd: TiB }
    })
  )
  const none = await refused({ capacity: '10MB', data: '4', parity: '2' }, ssdOnly)
  t.ok(
    /no node in CH sells hdd .*5 nodes are in CH, 0 of them sell hdd/.test(none),
    'a small archive where nobody sells hdd says so'
  )
  const few = Array.from({ length: 3 }, (_, i) =>
    hddOffer(i, { available: { ...ZERO, hdd: 20 * TiB } })
  )
  const msg = await refused({ capacity: '1TB' }, few)
  t.ok(/needs 30 distinct nodes in CH with hdd/.test(msg), 'what was needed')
  t.ok(
    /the market has 3 nodes in CH with hdd, the largest with 20TiB free/.test(msg),
    'what the market has'
  )
  t.ok(/lower `capacity`, use fewer shards \(data \+ parity ≤ 3\)/.test(msg), 'and the fix')
})
