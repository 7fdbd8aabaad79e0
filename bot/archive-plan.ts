/**
 * An archive's plan against the market, before anything is bought
 * (docs/ARCHITECTURE.md "Archives"): how many groups, which nodes
 * would hold their shards, the overhead and the price. It plays the engine's
 * matching (cheapest offer first, a group's holders on distinct nodes, the
 * capacity each takes) on the offers as they are; when the template's shard
 * is more than the nodes have free, it tries smaller shards (more groups).
 * What it cannot place, it says why, with what the market has and the fix.
 */
import { ScitError } from '../lib/errors'
import { formatSize, hourlyCost, ZERO, GiB } from '../lib/resources'
import { checkManifest, manifestHash } from '../lib/contract'
import type { Manifest, ManifestWorkload, ArchiveSpec } from '../lib/contract'
import type { Instance } from './manifest'
import { groupsFor, holderBudget, MONTH } from '../lib/archive/groups'
import { BLOCK } from '../lib/archive/layout'
import type { Offer } from '../market/types'

export interface ArchivePlan {
  size: number
  code: string
  groups: number
  shard: number
  holders: number
  /** Distinct nodes the groups land on. */
  nodes: number
  /** Bytes stored per byte kept: (data + parity) / data. */
  overhead: number
  perHour: number
  perMonth: number
  /** What each holder may cost at most per hour (the bid's max price). */
  budget: number
}

interface Seat {
  node: string
  free: number
  /** Per hour for one shard. */
  price: number
  time: number
}

const FLOOR = 16 * BLOCK

/** Plan `w` (an archive) of `m` on `offers`; the workload as it would be bought, or CAPACITY saying why not. */
export function planArchive(
  m: Manifest,
  w: ManifestWorkload,
  offers: Offer[]
): { workload: ManifestWorkload; plan: ArchivePlan } {
  const a = w.archive as ArchiveSpec
  const n = a.data + a.parity
  const where = placement(m)
  const live = offers.filter((o) => !o.withdrawn)
  const inPlace = live.filter(
    (o) => m.placement.countries.length === 0 || m.placement.countries.includes(o.country)
  )
  const fit = inPlace.filter(
    (o) =>
      m.placement.attributes.every((x) => o.attributes.includes(x)) &&
      m.duration >= o.minLease &&
      m.duration <= o.maxLease &&
      o.resources.hdd > 0
  )
  const need = `an archive of ${formatSize(a.size)} coded ${a.data}+${a.parity} needs ${n} distinct nodes ${where} with hdd`
  if (fit.length === 0) {
    const sellers = inPlace.filter((o) => o.resources.hdd > 0).length
    throw new ScitError(
      'CAPACITY',
      `${need}; no node ${where} sells hdd for a ${Math.round(m.duration / 86_400_000)}-day lease (${inPlace.length} nodes ${where.replace(/^in /, 'are in ')}, ${sellers} of them sell hdd at all): wait for hdd nodes there, or choose another country`
    )
  }
  const stored = Math.ceil((a.size * n) / a.data)
  const free = fit.reduce((x, o) => x + o.available.hdd, 0)
  const largest = Math.max(...fit.map((o) => o.available.hdd))
  const has = `the market has ${fit.length} ${fit.length === 1 ? 'node' : 'nodes'} ${where} with hdd, the largest with ${formatSize(largest)} free`
  if (free < stored)
    throw new ScitError(
      'CAPACITY',
      `${need}, ${formatSize(stored)} stored in all; ${has}, ${formatSize(free)} free in all: lower \`capacity\`, use a code with less parity, or relax placement`
    )
  let first = ''
  // the template's own shard first (even one below FLOOR), then halves of it down to FLOOR
  for (let cap = a.shard; ; cap = Math.floor(cap / 2 / BLOCK) * BLOCK) {
    const { groups, shard } = cap === a.shard ? a : groupsFor(a.size, a.data, cap)
    const budget = holderBudget(shard, a.price)
    const seats = fit
      .map((o) => ({
        node: o.node,
        free: o.available.hdd,
        price: hourlyCost({ ...ZERO, hdd: shard }, o.prices),
        time: o.time
      }))
      .filter((s) => s.free >= shard)
      .sort((x, y) => x.price - y.price || x.time - y.time || (x.node < y.node ? -1 : 1))
    const placed = place(seats, groups, n, shard, budget)
    if (typeof placed !== 'string') {
      const perHour = placed.perHour
      return {
        workload: {
          ...w,
          archive: { ...a, groups, shard },
          resources: { ...w.resources, hdd: shard },
          replicas: groups * n,
          budget
        },
        plan: {
          size: a.size,
          code: `${a.data}+${a.parity}`,
          groups,
          shard,
          holders: groups * n,
          nodes: placed.nodes,
          overhead: n / a.data,
          perHour,
          perMonth: perHour * MONTH,
          budget
        }
      }
    }
    first ||= placed
    if (groups > 10_000 || Math.floor(cap / 2 / BLOCK) * BLOCK < FLOOR) break
  }
  throw new ScitError(
    'CAPACITY',
    `${need}, each with room for a shard (at most ${formatSize(a.shard)}, smaller with more groups); ${first}; ${has}: lower \`capacity\`, use fewer shards (data + parity ≤ ${fit.length}), raise \`price\`, or relax placement`
  )
}

/** The engine's matching, group by group: the k + m cheapest seats with room, distinct nodes. A reason when a group cannot fill. */
function place(
  seats: Seat[],
  groups: number,
  n: number,
  shard: number,
  budget: number
): { nodes: number; perHour: number } | string {
  const affordable = seats.filter((s) => s.price <= budget)
  if (affordable.length < n) {
    if (seats.length < n) return `only ${seats.length} of them have ${formatSize(shard)} free`
    const cheapest = seats[n - 1].price
    return `only ${affordable.length} of them sell a ${formatSize(shard)} shard within ${budget}/h; the ${n}th cheapest asks ${cheapest}/h (${Math.ceil((cheapest * GiB) / shard)} per GiB-hour)`
  }
  const used = new Set<string>()
  let perHour = 0
  for (let g = 0; g < groups; g++) {
    let got = 0
    for (const s of affordable) {
      if (s.free < shard) continue
      s.free -= shard
      used.add(s.node)
      perHour += s.price
      if (++got === n) break
    }
    if (got < n)
      return `the market runs out after ${g} of ${groups} groups: ${got} nodes left with ${formatSize(shard)} free for group ${g + 1}`
  }
  return { nodes: used.size, perHour }
}

function placement(m: Manifest): string {
  const c = m.placement.countries
  const where = c.length === 0 ? 'anywhere' : `in ${c.join('/')}`
  const attrs = m.placement.attributes.filter((x) => x !== 'hdd')
  return attrs.length > 0 ? `${where} (${attrs.join(', ')})` : where
}

/** Lines for a person: groups, nodes, overhead, price. */
export function describePlan(p: ArchivePlan): string[] {
  return [
    `archive    ${formatSize(p.size)} coded ${p.code}: ${p.groups} ${p.groups === 1 ? 'group' : 'groups'} of ${p.holders / p.groups} holders, each keeping ${formatSize(p.shard)}`,
    `nodes      ${p.holders} leases on ${p.nodes} distinct nodes (a group's holders never share a node)`,
    `overhead   ${p.overhead.toFixed(2)}× stored (${formatSize(Math.round(p.size * p.overhead))} for ${formatSize(p.size)}); any ${p.holders / p.groups - Math.round(p.holders / p.groups / p.overhead)} holders of a group may be lost`,
    `price      ${p.perHour}/h at today's offers, ${p.perMonth.toLocaleString('en-US')} a month; each holder at most ${p.budget}/h`
  ]
}

/** Every archive workload of `inst` planned on the market's offers now; its manifest (and hash) as it will be bought. */
export async function planInstance(
  client: { offers(filter?: { selling?: boolean }): Promise<Offer[]> },
  inst: Instance
): Promise<{ inst: Instance; plans: ArchivePlan[] }> {
  const archives = inst.manifest.workloads.filter((w) => w.archive !== null)
  if (archives.length === 0) return { inst, plans: [] }
  const offers = await client.offers({ selling: true })
  const plans: ArchivePlan[] = []
  const workloads = inst.manifest.workloads.map((w) => {
    if (w.archive === null) return w
    const p = planArchive(inst.manifest, w, offers)
    plans.push(p.plan)
    return p.workload
  })
  const manifest = { ...inst.manifest, workloads }
  checkManifest(manifest)
  return { inst: { ...inst, manifest, hash: manifestHash(manifest) }, plans }
}
