/** Human output of the explorer: tables without colour or box, so they survive pipes, `watch` and logs. */
import Table from 'cli-table3'
import { formatCpu, formatSize, Resources } from '../../lib/resources'
import { shortKey } from '../../lib/keys'
import { shortId } from '../../lib/envelope'
import type { Offer, Bid, Trade } from '../types'
import type {
  NodeRow,
  ContractRow,
  TemplateRow,
  BalanceRow,
  MarketStats,
  ContractDetail,
  ReplicaDetail
} from './model'

type Align = 'left' | 'right'

const PLAIN = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: ''
}

/** Columns whose header starts with '>' are right-aligned. */
export function table(head: string[], rows: string[][]): string {
  const colAligns: Align[] = head.map((h) => (h.startsWith('>') ? 'right' : 'left'))
  const t = new Table({
    head: head.map((h) => h.replace(/^>/, '')),
    colAligns,
    chars: PLAIN,
    style: { head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 2 }
  })
  for (const r of rows) t.push(r)
  const lines = t
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '')
  const rule = '─'.repeat(Math.max(...lines.map((l) => l.length)))
  return [lines[0], rule, ...lines.slice(1)].join('\n')
}

export function section(title: string, body: string): string {
  return `${title}\n${body}`
}

export function money(n: number): string {
  return n.toLocaleString('en-US')
}

export function cores(milli: number): string {
  return formatCpu(milli)
}

/** '-' when the node sells none. */
export function pair(free: number, total: number, fmt: (n: number) => string): string {
  return total === 0 ? '-' : `${fmt(free)}/${fmt(total)}`
}

/** The cpu, memory, ssd and hdd columns: free of total. */
function freeOfTotal(free: Resources, total: Resources): string[] {
  return [
    pair(free.cpu, total.cpu, formatCpu),
    pair(free.memory, total.memory, formatSize),
    pair(free.ssd, total.ssd, formatSize),
    pair(free.hdd, total.hdd, formatSize)
  ]
}

const OFFER_NOTE = { live: '', lapsed: ' (lapsed)', withdrawn: ' (withdrawn)', none: ' (no offer)' }

/** `3s ago`, `in 5m`: a time relative to `now`. */
export function relative(at: number | null, now = Date.now()): string {
  if (at === null) return '-'
  const d = at - now
  const a = Math.abs(d)
  const text =
    a < 1000
      ? 'now'
      : a < 60_000
        ? `${Math.floor(a / 1000)}s`
        : a < 3_600_000
          ? `${Math.floor(a / 60_000)}m`
          : a < 86_400_000
            ? `${Math.floor(a / 3_600_000)}h`
            : `${Math.floor(a / 86_400_000)}d`
  if (text === 'now') return text
  return d < 0 ? `${text} ago` : `in ${text}`
}

/** A replica's shape: `1 cpu, 512MiB, ssd 1GiB`, leaving out kinds it does not ask. */
export function shape(r: Resources): string {
  const parts: string[] = []
  if (r.cpu) parts.push(`${formatCpu(r.cpu)} cpu`)
  if (r.memory) parts.push(formatSize(r.memory))
  if (r.ssd) parts.push(`ssd ${formatSize(r.ssd)}`)
  if (r.hdd) parts.push(`hdd ${formatSize(r.hdd)}`)
  if (r.ipv4) parts.push(`ipv4 ${r.ipv4}`)
  if (r.gpu) parts.push(`gpu ${r.gpu}`)
  return parts.join(', ') || '-'
}

/** A trade id for people: the start of its bid's hash, and its replica (`3k9x8pq1md.0`). */
export function tradeId(id: string): string {
  const dot = id.lastIndexOf('.')
  return dot < 0 ? shortId(id) : `${shortId(id, 10)}${id.slice(dot)}`
}

function where(country: string, city: string): string {
  return [country, city].filter(Boolean).join(' ') || '?'
}

function seen(n: NodeRow, now: number): string {
  if (n.connected === true) return 'connected'
  if (n.presence === 'verified') return relative(n.lastSeen, now)
  if (n.presence === 'missing') return 'offline'
  if (n.presence === 'invalid') return `INVALID (${n.presenceError ?? '?'})`
  if (n.presence === 'timeout') return 'no answer'
  return '-'
}

export function renderNodes(rows: NodeRow[], now = Date.now()): string {
  if (rows.length === 0) return 'no nodes'
  return table(
    [
      'node',
      'where',
      '>cpu',
      '>memory',
      '>ssd',
      '>hdd',
      '>core+GiB/h',
      'attributes',
      '>leases',
      'seen'
    ],
    rows.map((n) => [
      shortKey(n.node),
      where(n.country, n.city),
      ...freeOfTotal(n.free, n.total),
      money(n.price),
      n.attributes.join(',') + OFFER_NOTE[n.offer],
      String(n.leases),
      seen(n, now)
    ])
  )
}

export function renderOffers(rows: Offer[]): string {
  if (rows.length === 0) return 'no offers'
  const price = (o: Offer, k: 'cpu' | 'memory' | 'ssd' | 'hdd'): string =>
    o.resources[k] === 0 ? '-' : money(o.prices[k])
  return table(
    [
      'node',
      'where',
      '>cpu',
      '>memory',
      '>ssd',
      '>hdd',
      '>core/h',
      '>mem GiB/h',
      '>ssd GiB/h',
      '>hdd GiB/h',
      'attributes'
    ],
    rows.map((o) => [
      shortKey(o.node),
      where(o.country, o.city),
      ...freeOfTotal(o.available, o.resources),
      price(o, 'cpu'),
      price(o, 'memory'),
      price(o, 'ssd'),
      price(o, 'hdd'),
      o.attributes.join(',') + (o.withdrawn ? ' (withdrawn)' : '')
    ])
  )
}

export function renderBids(rows: Bid[], now = Date.now()): string {
  if (rows.length === 0) return 'no bids'
  return table(
    ['bid', 'state', 'bot', 'wants', 'where', 'needs', '>max/h', 'expires', '>trades'],
    rows.map((b) => [
      shortId(b.id),
      b.state,
      shortKey(b.bot),
      `${b.replicas} × ${shape(b.resources)}${b.spread ? ' spread' : ''}`,
      b.countries.join(',') || 'any',
      b.attributes.join(',') || '-',
      money(b.maxPrice),
      b.state === 'open' ? relative(b.expiry, now) : '-',
      String(b.trades.length)
    ])
  )
}

export function renderTrades(rows: Trade[], now = Date.now()): string {
  if (rows.length === 0) return 'no trades'
  return table(
    [
      'trade',
      'state',
      'node',
      'bot',
      'resources',
      '>price/h',
      '>escrow',
      '>paid',
      'contract',
      'ends'
    ],
    rows.map((t) => [
      tradeId(t.id),
      t.state,
      shortKey(t.node),
      shortKey(t.bot),
      shape(t.resources),
      money(t.price),
      money(t.escrow),
      money(t.paid),
      t.contract === null ? '-' : shortKey(t.contract),
      t.state === 'settled' ? relative(t.end, now) : '-'
    ])
  )
}

export function renderContracts(rows: ContractRow[], now = Date.now()): string {
  if (rows.length === 0) return 'no contracts'
  return table(
    [
      'contract',
      'state',
      'bot',
      '>replicas',
      'nodes',
      '>price/h',
      '>escrow',
      '>paid',
      'manifest',
      'since'
    ],
    rows.map((c) => [
      shortKey(c.contract),
      c.state,
      shortKey(c.bot),
      String(c.replicas),
      c.nodes.map((n) => shortKey(n)).join(','),
      money(c.pricePerHour),
      money(c.escrow),
      money(c.paid),
      c.manifest === null ? '-' : c.manifest.slice(0, 12),
      relative(c.start, now)
    ])
  )
}

export function renderTemplates(rows: TemplateRow[], now = Date.now()): string {
  if (rows.length === 0) return 'no templates'
  return table(
    ['name', '>version', 'author', 'published', '>size'],
    rows.map((t) => [
      t.name,
      String(t.version),
      shortKey(t.author),
      relative(t.time, now),
      formatSize(t.size) || '0'
    ])
  )
}

export function renderBalances(rows: BalanceRow[]): string {
  if (rows.length === 0) return 'no balances'
  return table(
    ['key', '>balance', '>in escrow'],
    rows.map((b) => [b.key, money(b.balance), money(b.escrow)])
  )
}

function capacity(s: MarketStats, k: 'cpu' | 'memory' | 'ssd' | 'hdd'): string[] {
  const fmt = k === 'cpu' ? formatCpu : formatSize
  return [
    `${k} (${k === 'cpu' ? 'cores' : 'GiB'})`,
    fmt(s.capacity.total[k]),
    fmt(s.capacity.sold[k]),
    fmt(s.capacity.free[k]),
    money(s.medianPrice[k])
  ]
}

export function renderStats(s: MarketStats, now = Date.now()): string {
  const trades =
    Object.entries(s.trades)
      .filter(([, n]) => n > 0)
      .map(([state, n]) => `${n} ${state}`)
      .join(', ') || 'none'
  const lines = [
    `engine time   ${s.time === 0 ? '-' : `${new Date(s.time).toISOString()} (${relative(s.time, now)})`}`,
    `nodes         ${s.nodes.offers} offering, ${s.nodes.leasing} with leases${s.nodes.lapsed ? `, ${s.nodes.lapsed} lapsed (not renewed)` : ''}${s.nodes.withdrawn ? `, ${s.nodes.withdrawn} withdrawn` : ''}`,
    `bids          ${s.bids.open} open`,
    `trades        ${trades}`,
    `volume        ${money(s.volume.value)} in ${s.volume.trades} settled trades; paid to nodes ${money(s.volume.paid)}, in escrow ${money(s.volume.escrow)}, refunded ${money(s.volume.refunded)}`,
    `money         ${money(s.money.minted)} minted, ${money(s.money.balances)} in balances`,
    `ops           ${s.ops.accepted} accepted, ${s.ops.rejected} rejected`,
    ''
  ]
  return (
    lines.join('\n') +
    table(
      ['resource (price unit)', '>total', '>sold', '>free', '>median price/h'],
      (['cpu', 'memory', 'ssd', 'hdd'] as const).map((k) => capacity(s, k))
    )
  )
}

export function duration(ms: number): string {
  for (const [u, n] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000]
  ] as const)
    if (ms >= n && ms % n === 0) return `${ms / n}${u}`
  return `${ms}ms`
}

function workloadState(r: ReplicaDetail, now: number): string {
  if (r.status === 'unreachable') return `unknown (${r.statusError ?? 'unreachable'})`
  if (r.status === 'none') return 'not started'
  return `${r.state ?? '?'} ${relative(r.since, now)}${r.reason ? `: ${r.reason}` : ''}`
}

export function renderContract(d: ContractDetail, now = Date.now()): string {
  const l = d.ledger
  const out = [
    `contract   ${d.contract}`,
    `bot        ${d.bot}`,
    `ledger     ${l.state}: ${l.replicas} running of ${l.trades.length} trades, ${money(l.pricePerHour)}/h, escrow ${money(l.escrow)}, paid ${money(l.paid)}, refunded ${money(l.refunded)}`
  ]
  if (!d.verified || d.manifest === null) {
    out.push(
      `core       UNVERIFIED: ${d.error ?? 'unknown'}`,
      "           (nothing of this contract core is shown: it could not be read, or did not verify against the trades' bot)"
    )
  } else {
    const m = d.manifest
    const st = d.lifecycle
    const p = m.placement
    out.push(
      `core       verified: ${d.length ?? 0} blocks, ${d.instructions.length} instruction${d.instructions.length === 1 ? '' : 's'} signed by the bot${st?.stopped ? ', STOPPED' : st?.deployed ? `, deployed (instruction ${st.deployed})` : ', not deployed yet'}`,
      `manifest   ${m.name} v${m.version}  ${m.hash}`,
      `placement  ${p.countries.length ? p.countries.join(', ') : 'any country'}${p.attributes.length ? `, nodes with ${p.attributes.join(', ')}` : ''}${p.spread ? ', each replica on its own node' : ''}`,
      `lease      ${duration(m.duration)}`,
      '',
      table(
        [
          'workload',
          'kind',
          '>replicas',
          'resources per replica',
          '>budget/h',
          'command',
          '>files'
        ],
        m.workloads.map((w) => [
          w.name,
          w.kind,
          String(st?.replicas[w.name] ?? w.replicas),
          shape(w.resources),
          money(w.budget),
          w.command.join(' ') || '-',
          String(w.files)
        ])
      ),
      ''
    )
    const a = d.approvals
    if (a === null || a.threshold === 0) out.push('approvals  none required')
    else {
      out.push(
        `approvals  weight ${a.weight} of ${a.threshold}${a.reached ? ' (reached)' : ' (NOT reached: nodes run nothing yet)'}`
      )
      for (const s of a.signers)
        out.push(
          `  ${s.signed ? 'signed ' : 'pending'}  ${s.role.padEnd(10)} ${s.key}  weight ${s.weight}`
        )
    }
  }
  out.push(
    '',
    table(
      ['trade', 'workload', 'node', 'lease', 'node seen', 'workload (signed status)', '>restarts'],
      d.replicas.map((r) => [
        tradeId(r.trade),
        r.workload ?? '?',
        shortKey(r.node),
        r.lease,
        r.presence === 'verified' ? relative(r.lastSeen, now) : r.presence,
        workloadState(r, now),
        r.restarts === null ? '-' : String(r.restarts)
      ])
    )
  )
  const refused = d.replicas.reduce((n, r) => n + r.refused, 0)
  if (refused > 0)
    out.push(`(${refused} records of the nodes' cores did not verify and are not shown)`)
  for (const r of d.replicas.filter((x) => x.logs.length > 0)) {
    out.push('', `logs of ${tradeId(r.trade)} on ${shortKey(r.node)} (signed by the node):`)
    for (const line of r.logs)
      out.push(`  ${line.stream === 'stderr' ? 'err' : 'out'} ${line.text}`)
  }
  return out.join('\n')
}
