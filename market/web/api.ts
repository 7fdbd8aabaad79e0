/**
 * The page's JSON API: each answer is what `scit market <same name> --json` prints, from the same code (views.ts,
 * trends.ts, node-detail.ts, contract.ts), with the same filters under the flags' names (`?country=CH&min-cpu=2`).
 */
import { ScitError } from '../../lib/errors'
import type { MarketPeer } from '../peer'
import type { View } from '../types'
import { HyperbeeView } from '../hyperbee-view'
import { parseFilter, parseKeyMatch, FilterFlags } from '../explorer/filters'
import { VIEWS, ViewContext, contextOf, FilterName } from '../explorer/views'
import { overviewRows, priceRows, parseRange } from '../explorer/trends'
import { nodeDetail } from '../explorer/node-detail'
import { contractDetail } from '../explorer/contract'
import type { PresenceCache } from './presence-cache'

export interface ApiContext {
  peer: MarketPeer
  presence: PresenceCache
  /** ms a node page or contract page waits for a node's or contract's core. */
  coreTimeout: number
}

type Handler = (api: ApiContext, q: URLSearchParams, arg: string | null) => Promise<unknown>

/** Query parameter → filter flag field and the filter it belongs to. */
const PARAMS: Record<string, [keyof FilterFlags, FilterName]> = {
  country: ['country', 'country'],
  'min-cpu': ['minCpu', 'min'],
  'min-memory': ['minMemory', 'min'],
  'min-ssd': ['minSsd', 'min'],
  attr: ['attr', 'attr'],
  'max-price': ['maxPrice', 'maxPrice'],
  state: ['state', 'state'],
  node: ['node', 'node'],
  bot: ['bot', 'bot'],
  bid: ['bid', 'bid'],
  online: ['online', 'online'],
  all: ['all', 'all']
}

function flagsOf(q: URLSearchParams, accepts: readonly FilterName[], what: string): FilterFlags {
  const flags: Record<string, unknown> = {}
  for (const [name, value] of q) {
    const p = PARAMS[name]
    if (p === undefined || !accepts.includes(p[1]))
      throw new ScitError('INVALID_ARGUMENT', `--${name} does not apply to ${what}`)
    if (value === '') continue // an empty form field: no filter
    if (p[0] === 'online' || p[0] === 'all') flags[p[0]] = value !== 'false' && value !== '0'
    else if (p[0] === 'attr') flags.attr = [...((flags.attr as string[]) ?? []), value]
    else flags[p[0]] = value
  }
  return flags as FilterFlags
}

/** One snapshot per answer, as the CLI reads one. */
async function snapshot<T>(api: ApiContext, fn: (ctx: ViewContext) => Promise<T>): Promise<T> {
  const snap = api.peer.ledger.view.snapshot()
  try {
    const view: View = HyperbeeView.reading(snap)
    return await fn({ ...contextOf(api.peer, view), presence: api.presence.sources })
  } finally {
    await snap.close()
  }
}

function only(q: URLSearchParams, names: string[], what: string): void {
  for (const [name] of q)
    if (!names.includes(name))
      throw new ScitError('INVALID_ARGUMENT', `--${name} does not apply to ${what}`)
}

export const ROUTES: Record<string, Handler> = {
  overview: (api, q) => {
    only(q, [], 'overview')
    return snapshot(api, (ctx) => overviewRows(ctx))
  },
  prices: (api, q) => {
    only(q, ['range'], 'prices')
    const range = parseRange(q.get('range') ?? '24h')
    return snapshot(api, (ctx) => priceRows(ctx.view, range))
  },
  node: (api, q, arg) => {
    only(q, [], 'node')
    const key = arg ?? ''
    const ref = parseKeyMatch(key, 'NODE')
    return snapshot(api, (ctx) =>
      nodeDetail(ctx, ref, key, { timeout: api.coreTimeout, peer: api.peer })
    )
  },
  contract: (api, q, arg) => {
    only(q, [], 'contract')
    const key = arg ?? ''
    return contractDetail(api.peer, parseKeyMatch(key, 'CONTRACT'), key, {
      timeout: api.coreTimeout,
      lines: 20,
      dht: api.peer.swarm?.dht ?? null
    })
  }
}

for (const v of VIEWS)
  ROUTES[v.name] = (api, q) => {
    const f = parseFilter(flagsOf(q, v.filters, v.name), v.states)
    return snapshot(api, (ctx) => v.rows(ctx, f) as Promise<unknown>)
  }

/** `/api/NAME` or `/api/NAME/ARG`; null when there is no such route. */
export function route(path: string): { handler: Handler; arg: string | null } | null {
  const m = /^\/api\/([a-z]+)(?:\/([^/]+))?$/.exec(path)
  if (m === null || !Object.prototype.hasOwnProperty.call(ROUTES, m[1])) return null
  const needsArg = m[1] === 'node' || m[1] === 'contract'
  if (needsArg !== (m[2] !== undefined)) return null
  return { handler: ROUTES[m[1]], arg: m[2] === undefined ? null : decodeURIComponent(m[2]) }
}
