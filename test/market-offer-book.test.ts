import test from 'brittle'
import { GiB, RESOURCE_KINDS } from '../lib/resources'
import { decode, offerRecord } from '../market/messages'
import { OfferBook } from '../market/engine/offer-book'
import { forSale } from '../market/engine/records'
import { unitCost, fitsIn, times } from '../market/engine/price'
import * as K from '../market/engine/keys'
import * as Q from '../market/queries'
import type { Offer, Bid } from '../market/types'
import { Market, Actor, offerBody, bidBody, resources, prng, HOUR } from './helpers/market'

const TTL = 10_000

/** What matching must choose, found the slow way: every offer compared. Node keys in replica order, or null. */
async function bruteForce(
  m: Market,
  bid: Omit<Bid, 'id' | 'bot' | 'time' | 'state' | 'trades'>,
  now: number
): Promise<string[] | null> {
  const found: Array<{ o: Offer; unit: number; room: number }> = []
  for await (const { value } of m.view.range(K.prefixRange('offer/'))) {
    const o = decode(offerRecord, value)
    if (!forSale(o, TTL, now) || !fitsIn(bid.resources, o.available)) continue
    if (bid.duration < o.minLease || bid.duration > o.maxLease) continue
    if (bid.countries.length > 0 && !bid.countries.includes(o.country)) continue
    if (!bid.attributes.every((a) => o.attributes.includes(a)) || bid.exclude.includes(o.node))
      continue
    const unit = unitCost(bid.resources, o.prices)
    if (unit > bid.maxPrice) continue
    found.push({ o, unit, room: bid.spread ? 1 : times(bid.resources, o.available, bid.replicas) })
  }
  found.sort((a, b) => a.unit - b.unit || a.o.time - b.o.time || (a.o.node < b.o.node ? -1 : 1))
  const nodes: string[] = []
  for (const f of found) {
    for (let i = 0; i < f.room && nodes.length < bid.replicas; i++) nodes.push(f.o.node)
    if (nodes.length === bid.replicas) return nodes
  }
  return null
}

test('matching through the offer book chooses exactly what comparing every offer chooses', async (t) => {
  const rand = prng(16)
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]
  const m = await Market.create({ offerTtl: TTL })
  const nodes = Array.from({ length: 300 }, (_, i) => new Actor(`book-node-${i}`))
  const bots = Array.from({ length: 5 }, (_, i) => new Actor(`book-bot-${i}`))
  for (const b of bots) await m.fund(b, 1e12)
  const body = (): ReturnType<typeof offerBody> =>
    offerBody({
      resources: resources({
        cpu: 1000 * (4 + Math.floor(rand() * 60)),
        memory: (4 + Math.floor(rand() * 60)) * GiB,
        ssd: Math.floor(rand() * 3) * 100 * GiB
      }),
      prices: resources({
        cpu: 50 + Math.floor(rand() * 20),
        memory: Math.floor(rand() * 4),
        ssd: Math.floor(rand() * 2)
      }),
      country: pick(['CH', 'DE', 'FR']),
      attributes: rand() < 0.3 ? ['gpu'] : [],
      minLease: rand() < 0.2 ? 2 * HOUR : 1,
      maxLease: rand() < 0.2 ? HOUR / 2 : 1000 * HOUR
    })
  const live = new Set<Actor>()
  let filled = 0
  let rested = 0
  for (let i = 0; i < 1500; i++) {
    const r = rand()
    if (r < 0.25) {
      const n = pick(nodes)
      const held = await Q.getOffer(m.view, n.key)
      // A live offer is renewed (same prices) or re-priced; a new one is posted.
      if (held !== null && !held.withdrawn)
        await m.send(n, 'offer-update', rand() < 0.5 ? renewal(held) : body())
      else await m.send(n, 'offer', body())
      live.add(n)
    } else if (r < 0.28 && live.size > 0) {
      const n = pick([...live])
      await m.send(n, 'withdraw', {})
      live.delete(n)
    } else {
      if (rand() < 0.05) m.advance(Math.floor(rand() * 6000)) // offers not renewed lapse
      const bid = bidBody({
        resources: resources({
          cpu: 1000 * (1 + Math.floor(rand() * 3)),
          memory: Math.floor(rand() * 4) * GiB,
          ssd: rand() < 0.2 ? 50 * GiB : 0
        }),
        replicas: 1 + Math.floor(rand() * 4),
        countries: rand() < 0.3 ? [pick(['CH', 'DE', 'FR'])] : [],
        attributes: rand() < 0.1 ? ['gpu'] : [],
        spread: rand() < 0.3,
        maxPrice: 60 + Math.floor(rand() * 400),
        exclude: rand() < 0.1 ? [pick(nodes).key] : []
      })
      const expected = await bruteForce(m, bid, m.clock + 1)
      const sent = await m.send(pick(bots), 'bid', bid)
      const mine = sent.outcome.trades.filter((id) => id.startsWith(`${sent.id}.`))
      const got =
        mine.length === 0
          ? null
          : await Promise.all(mine.map(async (id) => (await Q.getTrade(m.view, id))?.node))
      if (expected === null) rested++
      else filled++
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        t.fail(
          `bid ${i}: the book chose ${JSON.stringify(got)}, comparing every offer ${JSON.stringify(expected)}`
        )
        return
      }
    }
  }
  t.ok(filled > 300, `${filled} bids filled as comparing every offer says`)
  t.ok(rested > 50, `${rested} bids placed nothing, as comparing every offer says`)
})

test('the offer book: a truncated view undoes exactly the calls past it', async (t) => {
  const rand = prng(7)
  const offer = (i: number, price: number, cpu: number): Offer => ({
    ...offerBody({ prices: resources({ cpu: price, memory: price % 3 }) }),
    available: resources({ cpu, memory: GiB }),
    node: `n${i}`,
    id: `o${i}`,
    time: i,
    renewed: i,
    withdrawn: cpu < 0
  })
  const book = new OfferBook(true)
  const states: Array<Map<string, Offer>> = []
  const state = new Map<string, Offer>()
  book.seal(0)
  states[0] = new Map(state)
  for (let length = 1; length <= 60;) {
    for (let j = 0; j < 5; j++) {
      const i = Math.floor(rand() * 20)
      if (rand() < 0.2) {
        book.delete(`n${i}`)
        state.delete(`n${i}`)
      } else {
        const o = offer(i, Math.floor(rand() * 10), Math.floor(rand() * 3000) - 500)
        book.set(o)
        if (o.withdrawn) state.delete(o.node)
        else state.set(o.node, o)
      }
    }
    if (rand() < 0.2) {
      // A dropped apply call: nothing reached the view.
      book.rollback()
      state.clear()
      for (const [k, v] of states[length - 1]) state.set(k, v)
      continue
    }
    book.seal(length)
    states[length++] = new Map(state)
  }
  t.alike(sorted(book), sorted(fromState(states[60])), "the book is the view's after every call")
  for (const to of [55, 40, 40, 12, 0]) {
    t.ok(book.truncate(to), `truncated to ${to}`)
    t.alike(sorted(book), sorted(fromState(states[to])), `the book is the view's at ${to}`)
  }
  t.absent(book.truncate(5), 'cannot truncate forward: the caller rebuilds')
})

function renewal(o: Offer): ReturnType<typeof offerBody> {
  return {
    resources: o.resources,
    prices: o.prices,
    country: o.country,
    city: o.city,
    attributes: o.attributes,
    minLease: o.minLease,
    maxLease: o.maxLease
  }
}

function fromState(state: Map<string, Offer>): OfferBook {
  const b = new OfferBook()
  for (const o of state.values()) b.set(o)
  return b
}

function sorted(b: OfferBook): object {
  return {
    offers: [...b.values()].sort((x, y) => (x.node < y.node ? -1 : 1)),
    lists: RESOURCE_KINDS.map((k) => b.byPrice(k).map((e) => `${e.price}:${e.node}`))
  }
}
