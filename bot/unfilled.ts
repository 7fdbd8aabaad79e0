/** Why a bid rests unfilled, in actionable words, from the market's offers by the engine's own rules (market/engine/book.ts). */
import {
  MiB,
  RESOURCE_KINDS,
  Resources,
  Prices,
  fits,
  hourlyCost,
  formatResources
} from '../lib/resources'
import type { BidBody, Offer } from '../market/types'
import { formatDuration } from './stakeholders'

/** e.g. "no offer fits: the cheapest offer matching CH is 102/h, your max is 30/h; raise `budget` or relax placement". */
export function whyUnfilled(offers: Offer[], bid: BidBody): string {
  const live = offers.filter((o) => !o.withdrawn)
  const where = placement(bid)
  if (live.length === 0) return 'no node offers capacity on this market yet'
  const matching = live.filter((o) => matches(bid, o))
  if (matching.length === 0) {
    const there = live.filter(
      (o) => bid.countries.length === 0 || bid.countries.includes(o.country)
    )
    const missing = bid.attributes.filter((a) => !there.some((o) => o.attributes.includes(a)))
    const why =
      there.length === 0
        ? `no node is in ${bid.countries.join('/')}`
        : missing.length > 0
          ? `${there.length} ${there.length === 1 ? 'node is' : 'nodes are'} in ${bid.countries.join('/') || 'the market'}, none with ${missing.join(', ')}`
          : `no single node there has all of ${bid.attributes.join(', ')}`
    return `none of the ${live.length} offers matches ${where} (${why}); relax placement, or wait for such nodes`
  }
  const placed = matching.filter((o) => !bid.exclude.includes(o.node))
  if (placed.length === 0)
    return `every offer matching ${where} (${matching.length}) is from a node this contract already runs on or excludes (spread: one replica per node); wait for another node there, or relax placement`
  const leasing = placed.filter((o) => leases(bid, o))
  if (leasing.length === 0)
    return `no offer matching ${where} takes a lease of ${formatDuration(bid.duration)}; change \`duration\``
  const large = leasing.filter((o) => fits(bid.resources, o.resources))
  if (large.length === 0) {
    const biggest = [...leasing].sort((a, b) => size(b.resources) - size(a.resources))[0]
    return `no node matching ${where} is large enough for one replica (${formatResources(bid.resources)}): the largest of its ${leasing.length} ${leasing.length === 1 ? 'node' : 'nodes'} sells ${formatResources(biggest.resources)} in all; lower its resources, or relax placement`
  }
  const priced = large
    .map((o) => ({ o, unit: unitPrice(bid.resources, o.prices) }))
    .sort((a, b) => a.unit - b.unit)
  const cheapest = priced[0].unit
  if (cheapest > bid.maxPrice)
    return `no offer fits: the cheapest offer matching ${where} is ${cheapest}/h, your max is ${bid.maxPrice}/h; raise \`budget\` or relax placement`
  const within = priced.filter((x) => x.unit <= bid.maxPrice)
  const room = within.reduce(
    (n, x) => n + (bid.spread ? Math.min(1, roomOn(bid, x.o)) : roomOn(bid, x.o)),
    0
  )
  if (room < bid.replicas) {
    // with nothing leased, would they fit? if not, the market is too small, not busy
    const whole = within.reduce(
      (n, x) => n + (bid.spread ? Math.min(1, roomOn(bid, x.o, true)) : roomOn(bid, x.o, true)),
      0
    )
    const why =
      whole >= bid.replicas
        ? 'the rest of the capacity within budget is leased; wait for capacity'
        : bid.spread
          ? `only ${within.length} ${within.length === 1 ? 'node' : 'nodes'} there ${within.length === 1 ? 'sells' : 'sell'} within budget, and each takes one replica (spread); wait for more nodes`
          : 'that is all the capacity within budget there, leased or not'
    return `only ${room} of ${bid.replicas} replicas fit now at ${bid.maxPrice}/h or less matching ${where}${bid.spread ? ' (spread: one per node)' : ''}: ${why}, ask for fewer replicas, raise the budget or relax placement`
  }
  return `offers matching ${where} fit now (the cheapest at ${cheapest}/h): the next bid should fill`
}

/**
 * The offers that could take one replica of `bid` now by the same rules: placement, not excluded, the lease, size,
 * price within the budget, and room left.
 */
export function fitting(offers: Offer[], bid: BidBody): Offer[] {
  return offers.filter(
    (o) =>
      !o.withdrawn &&
      matches(bid, o) &&
      !bid.exclude.includes(o.node) &&
      leases(bid, o) &&
      fits(bid.resources, o.resources) &&
      unitPrice(bid.resources, o.prices) <= bid.maxPrice &&
      roomOn(bid, o) >= 1
  )
}

/** `o` is in a country and has the attributes `bid` places on. */
function matches(bid: BidBody, o: Offer): boolean {
  return (
    (bid.countries.length === 0 || bid.countries.includes(o.country)) &&
    bid.attributes.every((a) => o.attributes.includes(a))
  )
}

/** `o` sells a lease as long as `bid`'s. */
function leases(bid: BidBody, o: Offer): boolean {
  return bid.duration >= o.minLease && bid.duration <= o.maxLease
}

function placement(bid: BidBody): string {
  const countries = bid.countries.length > 0 ? bid.countries.join('/') : 'any country'
  return bid.attributes.length > 0 ? `${countries} with ${bid.attributes.join(', ')}` : countries
}

/** The engine's price of one replica at an offer; a price beyond 2^53 is one nobody can pay. */
function unitPrice(need: Resources, prices: Prices): number {
  try {
    return hourlyCost(need, prices)
  } catch {
    return Infinity
  }
}

/** Replicas `o` can take now (or, `whole`, with nothing of it leased). */
function roomOn(bid: BidBody, o: Offer, whole = false): number {
  const have = whole ? o.resources : o.available
  let n = bid.replicas
  for (const k of RESOURCE_KINDS)
    if (bid.resources[k] > 0) n = Math.min(n, Math.floor(have[k] / bid.resources[k]))
  return n
}

/** A rough order of a node's size, to name the largest: its bytes of memory and disk, and cores. */
function size(r: Resources): number {
  return r.memory + r.ssd + r.hdd + r.cpu * MiB
}
