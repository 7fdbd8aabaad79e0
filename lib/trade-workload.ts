/**
 * Which workload of a contract a trade runs, as node, bot and explorer must
 * agree on it: the workload of the manifest the trade bought (workloadFor),
 * and the id it runs under on its node, which names its records in the
 * node's status and log cores (workloadId). A trade the contract is not for
 * is refused with a TradeRefusal, whose reason the node records.
 */
import { ScitError } from './errors'
import type { Resources } from './resources'
import type { ContractView, ContractState, ManifestWorkload } from './contract'

/** What of a ledger trade (market/types Trade) these read. */
export interface TradeRef { id: string; bid: string; resources: Resources }

export type TradeReason = 'not-final' | 'wrong-node' | 'not-settled' | 'no-deploy' | 'no-workload' | 'unsupported'

/** A refusal that is about the trade rather than the contract core (those are lib/contract VerificationErrors). */
export class TradeRefusal extends ScitError {
  constructor (readonly reason: TradeReason, detail: string) {
    super('VERIFICATION', `${reason}: ${detail}`)
  }
}

export function workloadId (trade: Pick<TradeRef, 'id'>): string {
  return trade.id.toLowerCase()
}

/**
 * The workload a trade buys. A contract names the trades it is for: the
 * header the first ones, a signed `scale` instruction those bought later
 * (more replicas, replacements); a contract that names trades but not this
 * one was written for other nodes, and is refused. A scale instruction names
 * its trades' workload; otherwise bots bid once per workload, in manifest
 * order (bot/manifest planBids), so the trade's bid is matched to a workload
 * by its position among the header's trades; a workload with the trade's
 * resources is the fallback when the contract names no trades at all.
 */
export function workloadFor (view: ContractView, state: ContractState, trade: TradeRef): ManifestWorkload {
  const named = new Set(view.header?.trades ?? [])
  let scaled: string | null = null
  for (const ins of view.instructions) {
    for (const id of ins.trades) {
      named.add(id)
      if (id === trade.id && ins.scale.length === 1) scaled = ins.scale[0].workload
    }
  }
  if (named.size > 0 && !named.has(trade.id)) {
    const list = [...named]
    throw new TradeRefusal('wrong-node', `the contract is for trade${list.length > 1 ? 's' : ''} ${list.slice(0, 8).join(', ')}${list.length > 8 ? ' …' : ''}, not ${trade.id}: it names other nodes, not this one`)
  }
  const byScale = scaled === null ? undefined : state.manifest.workloads.find(x => x.name === scaled)
  if (byScale) return byScale
  const bids: string[] = []
  for (const id of view.header?.trades ?? []) {
    const bid = id.slice(0, id.lastIndexOf('.'))
    if (!bids.includes(bid)) bids.push(bid)
  }
  const byBid = bids.indexOf(trade.bid)
  const w = byBid >= 0 ? state.manifest.workloads[byBid] : state.manifest.workloads.find(x => sameResources(x.resources, trade.resources))
  if (!w) throw new TradeRefusal('no-workload', `no workload of the manifest matches trade ${trade.id}`)
  return w
}

function sameResources (a: Resources, b: Resources): boolean {
  return a.cpu === b.cpu && a.memory === b.memory && a.ssd === b.ssd && a.hdd === b.hdd && a.ipv4 === b.ipv4 && a.gpu === b.gpu
}
