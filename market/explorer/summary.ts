/** The market at a glance, for the demo's end and `watch`, drawn by the same code as the commands. */
import type DHT from 'hyperdht'
import type { MarketPeer } from '../peer'
import { VIEWS, ListView, contextOf, withCheckout } from './views'
import { section } from './render'

export interface SummaryOptions {
  /** Null or absent: no lookups, no one shows as online. */
  dht?: DHT | null
  /** Default true. */
  contracts?: boolean
  lookupTimeout?: number
}

export const SUMMARY_VIEWS = ['stats', 'nodes', 'offers', 'trades', 'contracts']

/** What `watch --json` prints. */
export async function summaryRows(
  peer: MarketPeer,
  opts: SummaryOptions = {}
): Promise<Record<string, unknown>> {
  const names = SUMMARY_VIEWS.filter((n) => n !== 'contracts' || opts.contracts !== false)
  return withCheckout(peer, async (view) => {
    const ctx = contextOf(peer, view, { dht: opts.dht ?? null, lookupTimeout: opts.lookupTimeout })
    const out: Record<string, unknown> = {}
    for (const v of VIEWS.filter((x) => names.includes(x.name))) out[v.name] = await v.rows(ctx, {})
    return out
  })
}

export function renderSummary(rows: Record<string, unknown>, now = Date.now()): string {
  const views = SUMMARY_VIEWS.filter((n) => n in rows)
    .map((n) => VIEWS.find((v) => v.name === n))
    .filter((v): v is ListView => v !== undefined)
  return views
    .map((v) => section(`── ${v.name} `.padEnd(60, '─'), v.render(rows[v.name], now)))
    .join('\n\n')
}

export async function summaryTables(
  peer: MarketPeer,
  opts: { dht?: DHT | null; contracts?: boolean } = {}
): Promise<string> {
  return renderSummary(await summaryRows(peer, opts))
}
