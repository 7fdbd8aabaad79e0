/**
 * The explorer's rows, each read from one snapshot so an answer is one ledger version. `--json` prints them as they
 * are and market/EXPLORER.md documents them: renaming a field is a breaking change.
 */
import { RESOURCE_KINDS, ZERO, Resources } from '../../lib/resources'
import * as Q from '../queries'
import { headlinePrice } from '../engine/keys'
import { forSale } from '../engine/records'
import type { View, Offer, Bid, Trade, TradeState, KeyText, Id } from '../types'
import { Filter, keyMatches, pricedShape, costOf } from './filters'
import type { NodePresence, PresenceState } from './presence'
import type { ApprovalSummary, Placement, WorkloadKind } from '../../lib/contract'
import type { WorkloadState } from '../../lib/node-messages'

export const TRADE_STATES: readonly TradeState[] = [
  'matched',
  'settled',
  'released',
  'closed',
  'failed',
  'ended'
]
export const BID_STATES = ['open', 'filled', 'expired', 'cancelled'] as const
export const CONTRACT_STATES = ['live', 'ended'] as const

export interface NodeRow {
  node: KeyText
  country: string
  city: string
  total: Resources
  free: Resources
  prices: Resources
  /** The headline price: one core and one GiB of memory for an hour. */
  price: number
  attributes: string[]
  /** Settled trades on this node: leases running now. */
  leases: number
  offer: 'live' | 'lapsed' | 'withdrawn' | 'none'
  online: boolean
  /** This explorer has a live connection to the node now (null: not known, e.g. no swarm). */
  connected: boolean | null
  presence: PresenceState | 'not-looked-up'
  lastSeen: number | null
  presenceError: string | null
}

function fitsMin(f: Filter, free: Resources): boolean {
  if (f.min === undefined) return true
  return RESOURCE_KINDS.every((k) => free[k] >= (f.min?.[k] ?? 0))
}

function sells(
  f: Filter,
  row: { country: string; attributes: string[]; free: Resources; prices: Resources }
): boolean {
  if (f.country !== undefined && row.country !== f.country) return false
  if (f.attributes !== undefined && !f.attributes.every((a) => row.attributes.includes(a)))
    return false
  if (!fitsMin(f, row.free)) return false
  return f.maxPrice === undefined || costOf(pricedShape(f), row.prices) <= f.maxPrice
}

/** An offer its node stopped renewing within the market's offer TTL: no bot can buy it (now: wall clock). */
export type Lapsed = (o: Offer) => boolean

export async function lapsedAt(view: View, now = Date.now()): Promise<Lapsed> {
  const ttl = (await Q.getGenesis(view))?.offerTtl ?? 0
  return (o) => !o.withdrawn && !forSale(o, ttl, now)
}

export function offerMatches(o: Offer, f: Filter, lapsed: Lapsed = () => false): boolean {
  if ((o.withdrawn || lapsed(o)) && f.all !== true) return false
  return keyMatches(f.node, o.node) && sells(f, { ...o, free: o.available })
}

export async function offerRows(view: View, f: Filter): Promise<Offer[]> {
  const offers = await Q.listOffers(view, { country: f.country, includeWithdrawn: true })
  const lapsed = await lapsedAt(view)
  return offers.filter((o) => offerMatches(o, f, lapsed))
}

async function leasesByNode(view: View): Promise<Map<KeyText, number>> {
  const out = new Map<KeyText, number>()
  for (const t of await Q.listTrades(view, { state: 'settled', live: true }))
    out.set(t.node, (out.get(t.node) ?? 0) + 1)
  return out
}

function fromOffer(o: Offer, leases: number, lapsed: Lapsed): NodeRow {
  return {
    node: o.node,
    country: o.country,
    city: o.city,
    total: o.resources,
    free: o.available,
    prices: o.prices,
    price: headlinePrice(o.prices),
    attributes: o.attributes,
    leases,
    offer: o.withdrawn ? 'withdrawn' : lapsed(o) ? 'lapsed' : 'live',
    online: false,
    connected: null,
    presence: 'not-looked-up',
    lastSeen: null,
    presenceError: null
  }
}

function withPresence(row: NodeRow, p: NodePresence | undefined): NodeRow {
  if (p === undefined) return row
  const out: NodeRow = {
    ...row,
    presence: p.state,
    online: p.state === 'verified',
    lastSeen: p.lastSeen,
    presenceError: p.error
  }
  const r = p.record
  // A node the ledger has no offer of is described by its own signed record.
  if (row.offer === 'none' && r !== null)
    Object.assign(out, {
      country: r.country,
      city: r.city,
      total: r.resources,
      free: r.free,
      prices: r.prices,
      price: headlinePrice(r.prices),
      attributes: r.attributes
    })
  return out
}

export interface NodeSources {
  /** Absent: nothing is looked up, no node shows as online. */
  lookup?: (nodes: KeyText[]) => Promise<Map<KeyText, NodePresence>>
  /** Keys announced on the market topic: nodes whose offer this view may not hold yet. */
  announced?: KeyText[]
  connected?: Set<KeyText> | null
}

export async function nodeRows(view: View, f: Filter, src: NodeSources = {}): Promise<NodeRow[]> {
  const leases = await leasesByNode(view)
  const offers = await Q.listOffers(view, { includeWithdrawn: true })
  const known = new Set(offers.map((o) => o.node))
  const connected = (r: NodeRow): NodeRow => ({
    ...r,
    connected: src.connected ? src.connected.has(r.node) : null
  })
  const lapsed = await lapsedAt(view)
  const rows = offers
    .filter((o) => offerMatches(o, f, lapsed))
    .map((o) => connected(fromOffer(o, leases.get(o.node) ?? 0, lapsed)))
  const extra = (src.announced ?? []).filter((k) => !known.has(k) && keyMatches(f.node, k))
  const lookup = src.lookup
  if (lookup === undefined) return f.online === true ? [] : rows
  const found = await lookup([...rows.map((r) => r.node), ...extra])
  const out = rows.map((r) => withPresence(r, found.get(r.node)))
  for (const node of extra) {
    const p = found.get(node)
    if (p?.state !== 'verified' || p.record === null) continue // a bot or an indexer: announced, but no node
    const blank: NodeRow = {
      node,
      country: '',
      city: '',
      total: ZERO,
      free: ZERO,
      prices: ZERO,
      price: 0,
      attributes: [],
      leases: leases.get(node) ?? 0,
      offer: 'none',
      online: false,
      connected: null,
      presence: 'not-looked-up',
      lastSeen: null,
      presenceError: null
    }
    const row = connected(withPresence(blank, p))
    if (sells(f, row)) out.push(row)
  }
  return out.filter((r) => f.online !== true || r.online)
}

/** Without --all or --state a list shows live state only (open bids, live trades and contracts): O(live), not O(history). */
function liveOnly(f: Filter): boolean {
  return f.all !== true && f.state === undefined
}

export async function bidRows(view: View, f: Filter): Promise<Bid[]> {
  const bids = await Q.listBids(view, {
    bot: f.bot?.key ?? undefined,
    state: (f.state as Bid['state'] | undefined) ?? (liveOnly(f) ? 'open' : undefined)
  })
  return bids.filter(
    (b) =>
      keyMatches(f.bot, b.bot) &&
      (f.country === undefined || b.countries.length === 0 || b.countries.includes(f.country)) &&
      (f.attributes === undefined || f.attributes.every((a) => b.attributes.includes(a))) &&
      fitsMin(f, b.resources) &&
      (f.maxPrice === undefined || b.maxPrice <= f.maxPrice)
  )
}

export async function tradeRows(view: View, f: Filter): Promise<Trade[]> {
  const trades = await Q.listTrades(view, {
    node: f.node?.key ?? undefined,
    bot: f.bot?.key ?? undefined,
    bid: f.bid,
    state: f.state as TradeState | undefined,
    live: liveOnly(f) || f.state === 'matched' || f.state === 'settled'
  })
  return trades.filter(
    (t) =>
      keyMatches(f.node, t.node) &&
      keyMatches(f.bot, t.bot) &&
      (f.maxPrice === undefined || t.price <= f.maxPrice)
  )
}

export interface ContractRow {
  contract: KeyText
  bot: KeyText
  /** The manifest hash (hex) of the latest settled trade. */
  manifest: string | null
  state: 'live' | 'ended'
  trades: Id[]
  nodes: KeyText[]
  /** Leases running now (settled trades). */
  replicas: number
  /** Σ price of the running leases, per hour. */
  pricePerHour: number
  escrow: number
  paid: number
  refunded: number
  start: number | null
  end: number | null
}

/**
 * Trades grouped by contract: of every contract, or (`all` false) of the contracts with a live trade, read
 * through their bots' trades instead of the market's whole history.
 */
export async function contractTrades(view: View, all = true): Promise<Map<KeyText, Trade[]>> {
  const out = new Map<KeyText, Trade[]>()
  let trades: Trade[]
  if (all) trades = await Q.listTrades(view)
  else {
    const live = await Q.listTrades(view, { live: true })
    const contracts = new Set(live.map((t) => t.contract))
    trades = []
    for (const bot of new Set(live.filter((t) => t.contract !== null).map((t) => t.bot)))
      for (const t of await Q.listTrades(view, { bot }))
        if (contracts.has(t.contract)) trades.push(t)
  }
  for (const t of trades) {
    if (t.contract === null) continue
    const list = out.get(t.contract)
    if (list === undefined) out.set(t.contract, [t])
    else list.push(t)
  }
  return out
}

export function contractRow(contract: KeyText, trades: Trade[]): ContractRow {
  const live = trades.filter((t) => t.state === 'settled')
  const latest = [...trades].sort((a, b) => (a.start ?? 0) - (b.start ?? 0)).pop()
  const sum = (fn: (t: Trade) => number): number => trades.reduce((n, t) => n + fn(t), 0)
  const starts = trades.map((t) => t.start).filter((x): x is number => x !== null)
  const ends = trades.map((t) => t.end).filter((x): x is number => x !== null)
  return {
    contract,
    bot: trades[0].bot,
    manifest: latest?.manifest ?? null,
    state: live.length > 0 ? 'live' : 'ended',
    trades: trades.map((t) => t.id),
    nodes: [...new Set(trades.map((t) => t.node))],
    replicas: live.length,
    pricePerHour: live.reduce((n, t) => n + t.price, 0),
    escrow: sum((t) => t.escrow),
    paid: sum((t) => t.paid),
    refunded: sum((t) => t.refunded),
    start: starts.length > 0 ? Math.min(...starts) : null,
    end: ends.length > 0 ? Math.max(...ends) : null
  }
}

export async function contractRows(view: View, f: Filter): Promise<ContractRow[]> {
  const out: ContractRow[] = []
  for (const [contract, trades] of await contractTrades(
    view,
    f.all === true || f.state === 'ended'
  )) {
    const row = contractRow(contract, trades)
    if (
      !keyMatches(f.bot, row.bot) ||
      (f.node !== undefined && !row.nodes.some((n) => keyMatches(f.node, n)))
    )
      continue
    if (f.state !== undefined && row.state !== f.state) continue
    out.push(row)
  }
  return out.sort((a, b) => (a.start ?? 0) - (b.start ?? 0))
}

export interface TemplateRow {
  name: string
  version: number
  author: KeyText
  id: Id
  time: number
  size: number
}

export async function templateRows(view: View, f: Filter): Promise<TemplateRow[]> {
  return (await Q.listTemplates(view))
    .filter((t) => keyMatches(f.bot, t.author))
    .map((t) => ({
      name: t.name,
      version: t.version,
      author: t.author,
      id: t.id,
      time: t.time,
      size: t.document.byteLength
    }))
}

export interface BalanceRow {
  key: KeyText
  balance: number
  escrow: number
}

/** Spendable balances, and the escrow each key's trades lock (a bot's money not yet paid out). */
export async function balanceRows(view: View, f: Filter): Promise<BalanceRow[]> {
  const rows = new Map<KeyText, BalanceRow>()
  for (const b of await Q.listBalances(view))
    rows.set(b.key, { key: b.key, balance: b.balance, escrow: 0 })
  for (const t of await Q.listTrades(view, { live: true })) {
    if (t.escrow === 0) continue // escrow is held by settled trades only
    const row = rows.get(t.bot) ?? { key: t.bot, balance: 0, escrow: 0 }
    row.escrow += t.escrow
    rows.set(t.bot, row)
  }
  return [...rows.values()]
    .filter((r) => keyMatches(f.bot, r.key))
    .sort((a, b) => b.balance + b.escrow - a.balance - a.escrow)
}

export interface MarketStats {
  time: number
  nodes: { offers: number; lapsed: number; withdrawn: number; leasing: number }
  capacity: { total: Resources; sold: Resources; free: Resources }
  trades: Record<TradeState, number>
  volume: { trades: number; value: number; paid: number; escrow: number; refunded: number }
  medianPrice: Resources
  bids: { open: number }
  money: { minted: number; balances: number; escrow: number }
  ops: { accepted: number; rejected: number }
}

function median(values: number[]): number {
  if (values.length === 0) return 0
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : Math.floor((s[mid - 1] + s[mid]) / 2)
}

/** Capacity and prices over live offers (not withdrawn, not lapsed). */
export async function marketStats(view: View): Promise<MarketStats> {
  const base = await Q.stats(view)
  const offers = await Q.listOffers(view, { includeWithdrawn: true })
  const lapsed = await lapsedAt(view)
  const live = offers.filter((o) => !o.withdrawn && !lapsed(o))
  const total = { ...ZERO }
  const free = { ...ZERO }
  const sold = { ...ZERO }
  const medianPrice = { ...ZERO }
  for (const k of RESOURCE_KINDS) {
    for (const o of live) {
      total[k] += o.resources[k]
      free[k] += o.available[k]
    }
    sold[k] = total[k] - free[k]
    medianPrice[k] = median(live.map((o) => o.prices[k]))
  }
  const trades = Object.fromEntries(TRADE_STATES.map((s) => [s, base.trades[s] ?? 0])) as Record<
    TradeState,
    number
  >
  const volume = { ...base.volume, escrow: base.escrow }
  const leasing = new Set<KeyText>()
  for (const t of await Q.listTrades(view, { live: true }))
    if (t.state === 'settled') leasing.add(t.node)
  return {
    time: base.time,
    nodes: {
      offers: live.length,
      lapsed: offers.filter(lapsed).length,
      withdrawn: offers.filter((o) => o.withdrawn).length,
      leasing: leasing.size
    },
    capacity: { total, sold, free },
    trades,
    volume,
    medianPrice,
    bids: { open: base.openBids },
    money: { minted: base.minted, balances: base.balances, escrow: base.escrow },
    ops: { accepted: base.accepted, rejected: base.rejected }
  }
}

// `scit market contract ID` (contract.ts): what the ledger, the contract core and the nodes' status cores say.

export interface ManifestSummary {
  hash: string
  name: string
  version: number
  params: Record<string, string | number | boolean>
  duration: number
  placement: Placement
  workloads: Array<{
    name: string
    kind: WorkloadKind
    replicas: number
    resources: Resources
    budget: number
    command: string[]
    ports: number[]
    files: number
  }>
}

export interface LogLine {
  stream: string
  timestamp: number
  text: string
}

export interface ReplicaDetail {
  trade: Id
  workload: string | null
  node: KeyText
  lease: TradeState
  price: number
  end: number | null
  presence: PresenceState | 'not-looked-up'
  lastSeen: number | null
  /** verified: the node's signed status core has a record of this workload; none: it has none yet; unreachable: the core could not be read. */
  status: 'verified' | 'none' | 'unreachable'
  state: WorkloadState | null
  reason: string | null
  since: number | null
  restarts: number | null
  statusError: string | null
  /** Records of the node's cores that did not verify and were skipped. */
  refused: number
  logs: LogLine[]
}

export interface ContractDetail {
  contract: KeyText
  bot: KeyText
  ledger: ContractRow
  verified: boolean
  error: string | null
  length: number | null
  manifest: ManifestSummary | null
  approvals: ApprovalSummary | null
  instructions: Array<{ seq: number; action: string; timestamp: number; reason: string }>
  lifecycle: { deployed: number | null; stopped: boolean; replicas: Record<string, number> } | null
  replicas: ReplicaDetail[]
}
