/** Tables for `scit market overview | prices | node`. */
import { formatCpu, formatSize, ResourceKind } from '../../lib/resources'
import type { Change, Overview, Prices } from './trends'
import type { NodeDetail, HourState } from './node-detail'
import { table, section, money, relative, shape, tradeId, renderNodes } from './render'

function amount(k: ResourceKind | string, n: number): string {
  return k === 'cpu'
    ? `${formatCpu(n)} cpu`
    : k === 'memory' || k === 'ssd' || k === 'hdd'
      ? formatSize(n)
      : String(n)
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x > 0 && x < 0.1 ? 1 : 0)}%`
}

/** `+3 in 24 h`, or why there is nothing to compare with. */
export function delta(c: Change, fmt: (n: number) => string = money): string {
  if (c.before === null) return 'new'
  const d = c.now - c.before
  return `${d >= 0 ? '+' : '-'}${fmt(Math.abs(d))} in 24 h`
}

export function renderOverview(o: Overview): string {
  const rows: string[][] = [
    ['nodes offering', money(o.nodes.offering), delta(o.nodes.offers)],
    ['nodes online', `${money(o.nodes.online)} (signed presence)`, ''],
    ['live contracts', money(o.contracts.live), `leases ${delta(o.contracts.leases)}`],
    ['trades, last 24 h', money(o.trades.now), delta(o.trades)],
    ['volume, last 24 h', money(o.volume.now), delta(o.volume)]
  ]
  for (const [k, c] of Object.entries(o.capacity))
    if (c.total > 0)
      rows.push([
        `${k} leased`,
        `${amount(k, c.leased)} of ${amount(k, c.total)} (${pct(c.leased / c.total)})`,
        c.share.before === null
          ? 'new'
          : `${c.share.now >= c.share.before ? '+' : '-'}${pct(Math.abs(c.share.now - c.share.before))} in 24 h`
      ])
  return table(['', '>now', 'change'], rows)
}

const UNIT: Record<string, string> = { cpu: 'core', memory: 'GiB', ssd: 'GiB', hdd: 'GiB' }

export function renderPrices(p: Prices): string {
  const kinds = Object.keys(p.depth)
  const history =
    p.history.length === 0
      ? `no trade in the last ${p.range}`
      : table(
          ['from', '>trades', ...kinds.map((k) => `>${k}/${UNIT[k]}-h min·median·max`)],
          p.history.map((b) => [
            new Date(b.start).toISOString().slice(0, 16).replace('T', ' '),
            money(b.matched),
            ...kinds.map((k) => {
              const s = b.prices[k as ResourceKind]
              return s === undefined ? '-' : `${s.min}·${s.median}·${s.max}`
            })
          ])
        )
  const depth = table(
    ['kind', '>offers: price×free (cheapest first)', '>bids: max price×asked'],
    kinds.map((k) => [
      k,
      p.depth[k].offers
        .slice(0, 4)
        .map((l) => `${l.price}×${amount(k, l.amount)}`)
        .join('  ') || '-',
      p.depth[k].bids
        .slice(0, 4)
        .map((l) => `${l.price}×${amount(k, l.amount)}`)
        .join('  ') || '-'
    ])
  )
  return [
    section(`traded unit prices, last ${p.range}, per ${p.resolution}:`, history),
    section('book depth now (per resource-hour):', depth)
  ].join('\n\n')
}

const STRIP: Record<HourState, string> = { renewed: '█', signed: '▒', silent: '·', before: ' ' }

export function renderNode(d: NodeDetail, now = Date.now()): string {
  const strip = d.uptime.hours.map((h) => STRIP[h]).join('')
  const lines = [
    renderNodes([d.node], now),
    '',
    `uptime, last ${d.uptime.hours.length} h (█ renewed its offer, ▒ signed presence or status, · nothing signed): ${d.uptime.share === null ? 'no renewal yet' : pct(d.uptime.share)}`,
    strip.match(/.{1,72}/g)?.join('\n') ?? '',
    ''
  ]
  lines.push(
    d.trades.length === 0
      ? 'no trades'
      : section(
          `latest trades (${d.trades.length}):`,
          table(
            ['trade', 'bot', 'resources', '>price/h', 'state', 'matched'],
            d.trades.map((t) => [
              tradeId(t.id),
              t.bot.slice(0, 8),
              shape(t.resources),
              money(t.price),
              t.state,
              relative(t.matchedAt, now)
            ])
          )
        )
  )
  lines.push('')
  if (d.events === null) lines.push(`status core: ${d.statusError ?? 'not read'}`)
  else
    lines.push(
      d.events.length === 0
        ? 'status core: no records'
        : section(
            'status core (signed by the node), newest first:',
            table(
              ['when', 'workload', 'state', 'reason'],
              d.events.map((e) => [relative(e.time, now), e.workload, e.state, e.reason ?? ''])
            )
          )
    )
  return lines.join('\n')
}
