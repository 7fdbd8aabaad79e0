import test from 'brittle'
import { ZERO, MiB, GiB, Resources } from '../lib/resources'
import { whyUnfilled, fitting } from '../bot/unfilled'
import type { BidBody, Offer } from '../market/types'

const HOUR = 3_600_000

function offer(node: string, over: Partial<Offer> = {}): Offer {
  const resources: Resources = { ...ZERO, cpu: 2000, memory: 4 * GiB }
  return {
    node,
    id: `op-${node}`,
    time: 0,
    renewed: 0,
    withdrawn: false,
    resources,
    available: resources,
    prices: { ...ZERO, cpu: 100, memory: 8 },
    country: 'CH',
    city: 'Zurich',
    attributes: ['ssd'],
    minLease: 1,
    maxLease: 30 * 24 * HOUR,
    ...over
  }
}

// one replica of 1 core and 1 GiB: 100 + 8 = 108/h at the prices above
function bid(over: Partial<BidBody> = {}): BidBody {
  return {
    resources: { ...ZERO, cpu: 1000, memory: GiB },
    replicas: 1,
    countries: ['CH'],
    attributes: ['ssd'],
    spread: true,
    maxPrice: 30,
    duration: HOUR,
    expiry: 0,
    exclude: [],
    ...over
  }
}

test('a budget below every matching offer names the cheapest matching price and the max', (t) => {
  const offers = [
    offer('a'),
    offer('b', { prices: { ...ZERO, cpu: 94, memory: 8 } }),
    offer('c', { country: 'DE', prices: { ...ZERO, cpu: 1, memory: 1 } })
  ]
  t.is(
    whyUnfilled(offers, bid()),
    'no offer fits: the cheapest offer matching CH with ssd is 102/h, your max is 30/h; raise `budget` or relax placement',
    'the cheaper DE offer does not count: it is outside the placement'
  )
})

test('why a bid rests: placement, lease window, size, free room, or nothing at all', (t) => {
  t.is(whyUnfilled([], bid()), 'no node offers capacity on this market yet')
  t.is(
    whyUnfilled([offer('a', { withdrawn: true })], bid()),
    'no node offers capacity on this market yet',
    'a withdrawn offer sells nothing'
  )
  t.is(
    whyUnfilled([offer('a', { country: 'DE' })], bid()),
    'none of the 1 offers matches CH with ssd (no node is in CH); relax placement, or wait for such nodes'
  )
  t.is(
    whyUnfilled([offer('a', { attributes: [] })], bid({ countries: [] })),
    'none of the 1 offers matches any country with ssd (1 node is in the market, none with ssd); relax placement, or wait for such nodes'
  )
  t.is(
    whyUnfilled([offer('a', { attributes: ['ssd'] })], bid({ attributes: ['hdd'] })),
    'none of the 1 offers matches CH with hdd (1 node is in CH, none with hdd); relax placement, or wait for such nodes',
    'a small archive where nobody sells hdd says so, not that it is too large'
  )
  t.is(
    whyUnfilled([offer('a'), offer('b', { country: 'DE' })], bid({ exclude: ['a'] })),
    'every offer matching CH with ssd (1) is from a node this contract already runs on or excludes (spread: one replica per node); wait for another node there, or relax placement',
    'a scale past the nodes there: the reason is spread, not placement'
  )
  t.is(
    whyUnfilled([offer('a', { maxLease: HOUR / 2 })], bid()),
    'no offer matching CH with ssd takes a lease of 1h; change `duration`'
  )
  t.is(
    whyUnfilled([offer('a')], bid({ resources: { ...ZERO, cpu: 4000, memory: GiB } })),
    'no node matching CH with ssd is large enough for one replica (cpu 4, mem 1GiB): the largest of its 1 node sells cpu 2, mem 4GiB in all; lower its resources, or relax placement'
  )
  const busy = offer('b', { available: { ...ZERO, cpu: 500, memory: 512 * MiB } })
  t.is(
    whyUnfilled([offer('a'), busy], bid({ replicas: 2, maxPrice: 200 })),
    'only 1 of 2 replicas fit now at 200/h or less matching CH with ssd (spread: one per node): the rest of the capacity within budget is leased; wait for capacity, ask for fewer replicas, raise the budget or relax placement'
  )
  t.is(
    whyUnfilled([offer('a')], bid({ replicas: 2, maxPrice: 200 })),
    'only 1 of 2 replicas fit now at 200/h or less matching CH with ssd (spread: one per node): only 1 node there sells within budget, and each takes one replica (spread); wait for more nodes, ask for fewer replicas, raise the budget or relax placement',
    'nothing is leased: the market is too small, and it says so'
  )
  t.is(
    whyUnfilled([offer('a')], bid({ maxPrice: 200 })),
    'offers matching CH with ssd fit now (the cheapest at 108/h): the next bid should fill'
  )
})

test('fitting: the offers that could take one replica now, by the same rules', (t) => {
  const within = bid({ maxPrice: 200 })
  const offers = [
    offer('a'),
    offer('b', { withdrawn: true }),
    offer('c', { country: 'DE' }),
    offer('d', { attributes: [] }),
    offer('e', { maxLease: 1000 }),
    offer('f', { resources: { ...ZERO, cpu: 500, memory: 4 * GiB } }),
    offer('g', { prices: { ...ZERO, cpu: 300, memory: 8 } }),
    offer('h', { available: { ...ZERO, cpu: 500, memory: 4 * GiB } }),
    offer('i')
  ]
  t.alike(
    fitting(offers, within).map((o) => o.node),
    ['a', 'i'],
    'withdrawn, placement, lease, size, price and free room each rule one out'
  )
  t.alike(
    fitting(offers, { ...within, exclude: ['i'] }).map((o) => o.node),
    ['a'],
    'and an excluded node'
  )
  t.alike(fitting(offers, bid()), [], 'none within a budget of 30/h')
})
