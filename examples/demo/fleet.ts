/**
 * The demo's ten nodes. Prices decide where each example lands (the cheapest offer
 * meeting a bid wins), so each node has a part: zurich runs the CRM and geneva heals it,
 * the certified DE pair run banking, amsterdam the AI job; the DE hdd nodes (the pair
 * and five light disk-only ones) hold the archive's shards, one of them left spare for
 * its repair. Capacity is declared, not probed: all ten share this machine.
 */
import { ZERO, GiB, Resources } from '../../lib/resources'

export interface NodeSpec {
  name: string
  country: string
  city: string
  attributes: string[]
  /** Per core-hour; memory, ssd and hdd cost 1 per GiB-hour everywhere. */
  cpuPrice: number
  /** Sells a little disk and little else (an archive holder). */
  light?: boolean
}

const disk = (name: string, city: string): NodeSpec => ({
  name,
  country: 'DE',
  city,
  attributes: ['hdd'],
  cpuPrice: 100,
  light: true
})

export const FLEET: readonly NodeSpec[] = [
  { name: 'zurich', country: 'CH', city: 'Zurich', attributes: ['ssd'], cpuPrice: 10 },
  { name: 'geneva', country: 'CH', city: 'Geneva', attributes: ['ssd'], cpuPrice: 12 },
  {
    name: 'frankfurt',
    country: 'DE',
    city: 'Frankfurt',
    attributes: ['ssd', 'hdd', 'certified'],
    cpuPrice: 11
  },
  {
    name: 'berlin',
    country: 'DE',
    city: 'Berlin',
    attributes: ['ssd', 'hdd', 'certified'],
    cpuPrice: 13
  },
  { name: 'amsterdam', country: 'NL', city: 'Amsterdam', attributes: ['ssd'], cpuPrice: 8 },
  disk('munich', 'Munich'),
  disk('hamburg', 'Hamburg'),
  disk('cologne', 'Cologne'),
  disk('leipzig', 'Leipzig'),
  disk('bremen', 'Bremen')
]

export function capacityOf(spec: NodeSpec): Resources {
  if (spec.light === true) return { ...ZERO, cpu: 250, memory: GiB / 4, hdd: GiB }
  return {
    ...ZERO,
    cpu: 2000,
    memory: 4 * GiB,
    ssd: 20 * GiB,
    hdd: spec.attributes.includes('hdd') ? 100 * GiB : 0
  }
}

export function pricesOf(spec: NodeSpec): Resources {
  return { ...ZERO, cpu: spec.cpuPrice, memory: 1, ssd: 1, hdd: 1 }
}

/** Names the node as the demo does, with the key prefix the explorer's tables show. */
export function describeNode(spec: NodeSpec, key: string): string {
  const c = capacityOf(spec)
  const disks = [
    c.ssd > 0 ? `${c.ssd / GiB} GiB ssd` : '',
    c.hdd > 0 ? `${c.hdd / GiB} GiB hdd` : ''
  ]
    .filter((x) => x !== '')
    .join(', ')
  return `${spec.name} (${key.slice(0, 8)}, ${spec.city} ${spec.country}) sells ${c.cpu / 1000} cores, ${c.memory / GiB} GiB, ${disks} at ${spec.cpuPrice}/core-hour`
}
