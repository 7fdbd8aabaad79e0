/* Charts of the market page: uPlot for prices over time and book depth, inline SVG for bars and the uptime strip. */
/* global uPlot */
'use strict'
;(function () {
  const SVG = 'http://www.w3.org/2000/svg'
  const GiB = 2 ** 30
  /** Unit prices are per core (cpu) or per GiB (sizes) and hour; amounts come in millicores and bytes. */
  const UNITS = {
    cpu: { per: 'core', scale: 1000 },
    memory: { per: 'GiB', scale: GiB },
    ssd: { per: 'GiB', scale: GiB },
    hdd: { per: 'GiB', scale: GiB }
  }
  const COLORS = {
    line: '#4ea1ff',
    band: 'rgba(78,161,255,0.16)',
    bid: '#f0883e',
    grid: '#263140',
    axis: '#8b98a8'
  }

  function svg(tag, attrs, text) {
    const el = document.createElementNS(SVG, tag)
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
    if (text !== undefined) el.textContent = text
    return el
  }

  function note(el, text) {
    const p = document.createElement('p')
    p.className = 'dim'
    p.textContent = text
    el.append(p)
  }

  function axes(ylabel) {
    const axis = {
      stroke: COLORS.axis,
      grid: { stroke: COLORS.grid, width: 1 },
      ticks: { stroke: COLORS.grid }
    }
    return [axis, { ...axis, label: ylabel, size: 60 }]
  }

  /** Median unit price per bucket with its min-max band; buckets without trades are gaps. */
  function price(el, prices, kind) {
    el.textContent = ''
    const step = prices.resolution === 'minute' ? 60000 : 3600000
    const at = new Map(prices.history.map((b) => [b.start, b.prices[kind]]))
    const xs = []
    const lo = []
    const mid = []
    const hi = []
    // a market younger than the range is drawn from a little before its first trade
    const first = prices.history.length > 0 ? prices.history[0].start : prices.from
    for (let t = Math.max(prices.from, first - 10 * step); t < prices.to; t += step) {
      const s = at.get(t)
      xs.push(t / 1000)
      lo.push(s ? s.min : null)
      mid.push(s ? s.median : null)
      hi.push(s ? s.max : null)
    }
    const points = mid.filter((v) => v !== null).length
    el.dataset.points = String(points)
    if (points === 0) {
      note(el, `no trade bought ${kind} in the last ${prices.range}`)
      return null
    }
    // minutes without a trade are not a price of 0: the line goes on across them
    const edge = {
      stroke: 'rgba(78,161,255,0.45)',
      width: 1,
      points: { show: false },
      spanGaps: true
    }
    return new uPlot(
      {
        width: el.clientWidth || 600,
        height: 220,
        series: [
          {},
          { label: 'min', ...edge },
          {
            label: 'median',
            stroke: COLORS.line,
            width: 2,
            points: { show: true, size: 6 },
            spanGaps: true
          },
          { label: 'max', ...edge }
        ],
        bands: [{ series: [3, 1], fill: COLORS.band }],
        axes: axes(`per ${UNITS[kind].per}-hour`),
        scales: { y: { range: (u, min, max) => [0, Math.max(1, max * 1.2)] } }
      },
      [xs, lo, mid, hi],
      el
    )
  }

  /** Cumulative free capacity offered up to each price, and asked by bids at or above it. */
  function depth(el, levels, kind) {
    el.textContent = ''
    const { per, scale } = UNITS[kind]
    const xs = [...new Set([...levels.offers, ...levels.bids].map((l) => l.price))].sort(
      (a, b) => a - b
    )
    el.dataset.points = String(xs.length)
    if (xs.length === 0) {
      note(el, `no offer sells ${kind} and no open bid asks for it`)
      return null
    }
    const sum = (list, keep) => list.filter(keep).reduce((n, l) => n + l.amount, 0) / scale
    const offered = xs.map((x) => sum(levels.offers, (l) => l.price <= x))
    const asked = xs.map((x) => sum(levels.bids, (l) => l.price >= x))
    const stepped = uPlot.paths.stepped
    return new uPlot(
      {
        width: el.clientWidth || 600,
        height: 220,
        scales: { x: { time: false } },
        series: [
          { label: `price per ${per}-hour` },
          {
            label: `offered (${per}s)`,
            stroke: COLORS.line,
            width: 2,
            paths: stepped({ align: 1 }),
            fill: COLORS.band
          },
          { label: `asked (${per}s)`, stroke: COLORS.bid, width: 2, paths: stepped({ align: -1 }) }
        ],
        axes: axes(`${per}s`)
      },
      [xs, offered, asked],
      el
    )
  }

  /** Horizontal bars: [{label, used, total, text}]. */
  function bars(el, rows) {
    el.textContent = ''
    const width = Math.max(400, el.clientWidth - 28)
    const row = 30
    const root = svg('svg', {
      viewBox: `0 0 ${width} ${rows.length * row}`,
      width,
      height: rows.length * row,
      role: 'img'
    })
    rows.forEach((r, i) => {
      const y = i * row
      const share = r.total > 0 ? Math.min(1, r.used / r.total) : 0
      root.append(svg('text', { x: 0, y: y + 19, fill: COLORS.axis, 'font-size': 13 }, r.label))
      root.append(
        svg('rect', { x: 80, y: y + 6, width: 340, height: 16, rx: 3, fill: COLORS.grid })
      )
      root.append(
        svg('rect', {
          x: 80,
          y: y + 6,
          width: Math.max(share > 0 ? 2 : 0, 340 * share),
          height: 16,
          rx: 3,
          fill: COLORS.line
        })
      )
      root.append(svg('text', { x: 432, y: y + 19, fill: '#dce3ea', 'font-size': 12 }, r.text))
    })
    el.append(root)
  }

  const STRIP = { renewed: '#3fb950', signed: '#2f6f3e', silent: '#f85149', before: '#263140' }

  /** One cell per hour, a row per day, oldest first. */
  function strip(el, uptime) {
    el.textContent = ''
    const cell = 16
    const days = Math.ceil(uptime.hours.length / 24)
    const root = svg('svg', {
      viewBox: `0 0 ${24 * cell + 90} ${days * cell}`,
      width: 24 * cell + 90,
      height: days * cell,
      role: 'img'
    })
    uptime.hours.forEach((state, i) => {
      const t = new Date(uptime.from + i * 3600000)
      const x = 90 + (i % 24) * cell
      const y = Math.floor(i / 24) * cell
      if (i % 24 === 0)
        root.append(
          svg(
            'text',
            { x: 0, y: y + 12, fill: COLORS.axis, 'font-size': 11 },
            t.toISOString().slice(0, 13).replace('T', ' ') + 'h'
          )
        )
      const r = svg('rect', {
        x,
        y,
        width: cell - 2,
        height: cell - 2,
        rx: 2,
        fill: STRIP[state],
        'data-state': state
      })
      r.append(svg('title', {}, `${t.toISOString().slice(0, 13).replace('T', ' ')}h: ${state}`))
      root.append(r)
    })
    el.append(root)
  }

  window.scitCharts = { price, depth, bars, strip, UNITS }
})()
