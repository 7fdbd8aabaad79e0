/** Which workload of a contract a trade runs, and its id on the node: node, bot and explorer must agree. */
import { ScitError } from './errors'
import type { Resources } from './resources'
import type { ContractView, ContractState, ManifestWorkload } from './contract'

export interface TradeRef {
  id: string
  bid: string
  resources: Resources
}

export type TradeReason =
  'not-final' | 'wrong-node' | 'not-settled' | 'no-deploy' | 'no-workload' | 'unsupported'

/** A refusal that is about the trade rather than the contract core (those are lib/contract VerificationErrors). */
export class TradeRefusal extends ScitError {
  constructor(
    readonly reason: TradeReason,
    detail: string
  ) {
    super('VERIFICATION', `${reason}: ${detail}`)
  }
}

/** A trade's workload id on its node: the trade id without its time prefix (unique by its hash; short enough for paths). */
export function workloadId(trade: Pick<TradeRef, 'id'>): string {
  return trade.id.slice(trade.id.indexOf('-') + 1).toLowerCase()
}

/** The trades a contract names: its header's, and those its instructions add (a heal, a scale-up). */
export function namedTrades(view: ContractView): Set<string> {
  const named = new Set(view.header?.trades ?? [])
  for (const ins of view.instructions) for (const id of ins.trades) named.add(id)
  // an archive names its holders in its catalog: a layout per group, a repair per replacement
  for (const { record: r } of view.archive) {
    if (r.kind === 'layout') for (const id of r.trades) named.add(id)
    if (r.kind === 'repair') named.add(r.trade)
  }
  return named
}

/**
 * A contract names its trades (header, or a later `scale` instruction); one that
 * names others was written for other nodes and is refused. Otherwise the bid's
 * position among the header's trades (bids go in manifest order) picks the
 * workload, and matching resources are the fallback when no trades are named.
 */
export function workloadFor(
  view: ContractView,
  state: ContractState,
  trade: TradeRef
): ManifestWorkload {
  const named = namedTrades(view)
  let scaled: string | null = null
  for (const ins of view.instructions)
    if (ins.trades.includes(trade.id) && ins.scale.length === 1) scaled = ins.scale[0].workload
  if (named.size > 0 && !named.has(trade.id)) {
    const list = [...named]
    throw new TradeRefusal(
      'wrong-node',
      `the contract is for trade${list.length > 1 ? 's' : ''} ${list.slice(0, 8).join(', ')}${list.length > 8 ? ' …' : ''}, not ${trade.id}: it names other nodes, not this one`
    )
  }
  const byScale =
    scaled === null ? undefined : state.manifest.workloads.find((x) => x.name === scaled)
  if (byScale) return byScale
  const bids: string[] = []
  for (const id of view.header?.trades ?? []) {
    const bid = id.slice(0, id.lastIndexOf('.'))
    if (!bids.includes(bid)) bids.push(bid)
  }
  const byBid = bids.indexOf(trade.bid)
  const w =
    byBid >= 0
      ? state.manifest.workloads[byBid]
      : state.manifest.workloads.find((x) => sameResources(x.resources, trade.resources))
  if (!w)
    throw new TradeRefusal('no-workload', `no workload of the manifest matches trade ${trade.id}`)
  return w
}

function sameResources(a: Resources, b: Resources): boolean {
  return (
    a.cpu === b.cpu &&
    a.memory === b.memory &&
    a.ssd === b.ssd &&
    a.hdd === b.hdd &&
    a.ipv4 === b.ipv4 &&
    a.gpu === b.gpu
  )
}
