/**
 * `scit market node KEY` and the web page's node page: one node's capacity, offer, recent trades, and an uptime
 * strip per hour from what the node signed: offer renewals (in the ledger), its DHT presence record, and the
 * records of its status core (each signed with its time).
 */
import type Hypercore from 'hypercore'
import { decodeKey } from '../../lib/keys'
import { ScitError } from '../../lib/errors'
import { readCore } from '../../lib/status'
import type { StatusRecord, WorkloadState } from '../../lib/node-messages'
import * as Q from '../queries'
import * as K from '../engine/keys'
import { HISTORY } from '../engine/keys'
import { renewals } from '../history'
import type { Offer, Trade, KeyText } from '../types'
import type { MarketPeer } from '../peer'
import { KeyMatch, invalid } from './filters'
import { NodeRow } from './model'
import { ViewContext, nodesOf } from './views'
import { nodeCores } from './contract'
import safetyCatch from 'safety-catch'

export const UPTIME_HOURS = 7 * 24
export const RECENT_TRADES = 50
const STATUS_RECORDS = 64

/** An hour of the strip: `renewed` the node renewed its offer then; `signed` only its presence or status records say so. */
export type HourState = 'renewed' | 'signed' | 'silent' | 'before'

export interface StatusEvent {
  time: number
  workload: string
  state: WorkloadState
  reason: string | null
}

export interface NodeDetail {
  node: NodeRow
  offer: Offer | null
  /** Its latest trades, newest first. */
  trades: Trade[]
  uptime: {
    from: number
    /** One per hour from `from`, oldest first. */
    hours: HourState[]
    /** Of the hours since it first renewed in the range: the share with something it signed. */
    share: number | null
  }
  /** Its status core's latest records (verified), newest first; null when it could not be read (statusError). */
  events: StatusEvent[] | null
  statusError: string | null
}

async function findNode(ctx: ViewContext, ref: KeyMatch, text: string): Promise<NodeRow> {
  const rows = await nodesOf(ctx, { node: ref, all: true })
  if (rows.length === 0)
    throw new ScitError(
      'NOT_FOUND',
      `no node ${text} has an offer on this market (scit market nodes --all lists them)`
    )
  if (rows.length > 1)
    throw invalid(
      'NODE',
      `"${text}" is the start of ${rows.length} node keys: give more characters`
    )
  return rows[0]
}

async function recentTrades(view: ViewContext['view'], node: KeyText): Promise<Trade[]> {
  const out: Trade[] = []
  for await (const { key } of view.range({
    ...K.prefixRange(`ix/trade-node/${node}/`),
    reverse: true,
    limit: RECENT_TRADES
  })) {
    const t = await Q.getTrade(view, K.tail(key))
    if (t !== null) out.push(t)
  }
  return out
}

/** The node's status core, read through its presence record, or why not (a node offline has none to give). */
async function statusEvents(
  peer: MarketPeer,
  node: KeyText,
  timeout: number
): Promise<{ events: StatusEvent[] | null; error: string | null }> {
  const dht = peer.swarm?.dht ?? null
  const opened: Hypercore[] = []
  try {
    const c = await nodeCores(peer, { timeout, lines: 0, dht }, node, opened)
    if (c.status === null) return { events: null, error: c.error }
    const end = c.status.length
    const r = await readCore<StatusRecord>(c.status, decodeKey(node), 'status', {
      start: Math.max(0, end - STATUS_RECORDS),
      end,
      timeout
    })
    const events = r.records
      .map((x) => ({
        time: x.timestamp,
        workload: x.body.workload,
        state: x.body.state,
        reason: x.body.reason
      }))
      .reverse()
    return { events, error: null }
  } catch (err) {
    return { events: null, error: (err as Error).message }
  } finally {
    for (const core of opened) await core.close().catch(safetyCatch)
  }
}

export interface NodeDetailOptions {
  now?: number
  /** ms for the node's status core; 0: do not read it. */
  timeout: number
  peer: MarketPeer | null
}

export async function nodeDetail(
  ctx: ViewContext,
  ref: KeyMatch,
  text: string,
  opts: NodeDetailOptions
): Promise<NodeDetail> {
  const now = opts.now ?? Date.now()
  const row = await findNode(ctx, ref, text)
  const offer = await Q.getOffer(ctx.view, row.node)
  const trades = await recentTrades(ctx.view, row.node)
  const status =
    opts.peer !== null && opts.timeout > 0
      ? await statusEvents(opts.peer, row.node, opts.timeout)
      : { events: null, error: 'not read' }
  const from = K.bucketOf('hour', now) - (UPTIME_HOURS - 1) * HISTORY.hour
  const renewed = new Set(await renewals(ctx.view, row.node, from, now + HISTORY.hour))
  const signed = new Set<number>()
  if (row.lastSeen !== null) signed.add(K.bucketOf('hour', row.lastSeen))
  for (const e of status.events ?? []) signed.add(K.bucketOf('hour', e.time))
  let first: number | null = null
  for await (const { key } of ctx.view.range({ ...K.prefixRange(K.RENEWALS(row.node)), limit: 1 }))
    first = Number(K.tail(key))
  const hours: HourState[] = []
  for (let h = from; h <= now; h += HISTORY.hour)
    hours.push(
      renewed.has(h)
        ? 'renewed'
        : signed.has(h)
          ? 'signed'
          : first === null || h < first
            ? 'before'
            : 'silent'
    )
  const counted = hours.filter((s) => s !== 'before')
  return {
    node: row,
    offer,
    trades,
    uptime: {
      from,
      hours,
      share:
        counted.length === 0 ? null : counted.filter((s) => s !== 'silent').length / counted.length
    },
    events: status.events,
    statusError: status.error
  }
}
