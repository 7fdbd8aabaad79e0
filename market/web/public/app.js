/*
 * The market page: reads /api/* (what `scit market … --json` prints) and follows /api/events. Every string from
 * the market (cities, attributes, reasons) goes in as text, never as markup.
 */
'use strict'
;(function () {
  const charts = window.scitCharts
  const main = document.getElementById('main')
  const live = document.getElementById('live')
  const KINDS = ['cpu', 'memory', 'ssd', 'hdd']
  const state = { eventId: null, source: null, page: null, priceRange: '6h', timer: null, gen: 0 }

  // --- building blocks -------------------------------------------------------------------------------

  function h(tag, props, ...children) {
    const el = document.createElement(tag)
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null) continue
      if (k === 'class') el.className = v
      else if (k === 'text') el.textContent = v
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
      else el.setAttribute(k, v)
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c)
    return el
  }

  const fmt = {
    n: (x) => Number(x).toLocaleString('en-US'),
    cpu: (m) => `${+(m / 1000).toFixed(m % 1000 === 0 ? 0 : 2)}`,
    size: (b) => {
      const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
      let i = 0
      while (b >= 1024 && i < units.length - 1) {
        b /= 1024
        i++
      }
      return `${+b.toFixed(b < 10 && i > 0 ? 1 : 0)} ${units[i]}`
    },
    amount: (k, v) => (k === 'cpu' ? `${fmt.cpu(v)} cores` : fmt.size(v)),
    short: (k) => (k ? k.slice(0, 8) : '-'),
    ago: (t) => {
      if (t === null || t === undefined) return '-'
      const d = Date.now() - t
      const a = Math.abs(d)
      const s =
        a < 60e3
          ? `${Math.floor(a / 1e3)}s`
          : a < 3600e3
            ? `${Math.floor(a / 60e3)}m`
            : a < 864e5
              ? `${Math.floor(a / 3600e3)}h`
              : `${Math.floor(a / 864e5)}d`
      return d >= 0 ? `${s} ago` : `in ${s}`
    },
    pct: (x) => `${(x * 100).toFixed(x > 0 && x < 0.1 ? 1 : 0)}%`,
    shape: (r) =>
      [
        r.cpu && `${fmt.cpu(r.cpu)} cpu`,
        r.memory && fmt.size(r.memory),
        r.ssd && `ssd ${fmt.size(r.ssd)}`,
        r.hdd && `hdd ${fmt.size(r.hdd)}`
      ]
        .filter(Boolean)
        .join(', ') || '-',
    trade: (id) => {
      const dot = id.lastIndexOf('.')
      const dash = id.indexOf('-')
      return id.slice(dash + 1, dash + 11) + (dot < 0 ? '' : id.slice(dot))
    }
  }

  /** `+3 in 24 h` with a colour; {now, before} as the API gives changes. */
  function change(c, show = fmt.n) {
    if (c.before === null) return h('span', { class: 'dim', text: 'new market' })
    const d = c.now - c.before
    return h('span', {
      class: d > 0 ? 'up' : d < 0 ? 'down' : 'dim',
      text: `${d >= 0 ? '+' : '−'}${show(Math.abs(d))} in 24 h`
    })
  }

  function link(href, text) {
    return h('a', { href, text })
  }

  /** columns: [{head, cell(row) → text|node, num?}]; rows keyed for live updates. */
  function table(id, columns, rows, key) {
    const body = h('tbody')
    const t = h(
      'table',
      { id },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map((c) =>
            h('th', { class: c.num ? 'num' : c.mono ? 'key' : undefined, text: c.head })
          )
        )
      ),
      body
    )
    t.columns = columns
    t.key = key
    for (const r of rows) body.append(row(t, r))
    if (rows.length === 0)
      body.append(
        h(
          'tr',
          { class: 'empty' },
          h('td', { class: 'dim', colspan: String(columns.length), text: 'none' })
        )
      )
    return t
  }

  function row(t, r) {
    return h(
      'tr',
      { 'data-key': t.key(r) },
      t.columns.map((c) => {
        const v = c.cell(r)
        return h(
          'td',
          { class: c.num ? 'num' : c.mono ? 'key' : c.wrap ? 'wrap' : undefined },
          typeof v === 'object' && v !== null ? v : String(v ?? '-')
        )
      })
    )
  }

  /** Replace the row with the same key, or put a new one first; it flashes. */
  function upsert(t, r, keep = () => true) {
    if (!t || !document.body.contains(t)) return
    const body = t.tBodies[0]
    const old = body.querySelector(`tr[data-key="${CSS.escape(t.key(r))}"]`)
    for (const e of body.querySelectorAll('tr.empty')) e.remove()
    if (!keep(r)) return old && old.remove()
    const fresh = row(t, r)
    fresh.className = 'fresh'
    if (old) old.replaceWith(fresh)
    else body.prepend(fresh)
  }

  async function api(path) {
    const r = await fetch(`/api/${path}`, { headers: { Accept: 'application/json' } })
    const body = await r.json()
    if (!r.ok) throw new Error(`${body.error.code}: ${body.error.message}`)
    if (state.eventId === null) state.eventId = r.headers.get('X-Scit-Event-Id')
    const market = r.headers.get('X-Scit-Market')
    if (market) document.getElementById('market').textContent = market.slice(0, 12) + '…'
    return body
  }

  // --- tables as the CLI has them ----------------------------------------------------------------------

  const TRADE_COLUMNS = [
    { head: 'trade', mono: true, cell: (t) => fmt.trade(t.id) },
    { head: 'node', mono: true, cell: (t) => link(`#/node/${t.node}`, fmt.short(t.node)) },
    { head: 'bot', mono: true, cell: (t) => fmt.short(t.bot) },
    { head: 'resources', cell: (t) => fmt.shape(t.resources) },
    { head: 'price/h', num: true, cell: (t) => fmt.n(t.price) },
    { head: 'state', cell: (t) => t.state },
    {
      head: 'contract',
      mono: true,
      cell: (t) => (t.contract ? link(`#/contract/${t.contract}`, fmt.short(t.contract)) : '-')
    },
    { head: 'matched', cell: (t) => fmt.ago(t.matchedAt) }
  ]

  const free = (k) => ({
    head: k,
    num: true,
    cell: (o) =>
      o.resources[k] ? `${fmt.amount(k, o.available[k])} / ${fmt.amount(k, o.resources[k])}` : '-'
  })
  const OFFER_COLUMNS = [
    { head: 'node', mono: true, cell: (o) => link(`#/node/${o.node}`, fmt.short(o.node)) },
    { head: 'where', cell: (o) => `${o.country} ${o.city}` },
    ...KINDS.map(free),
    { head: 'cpu/core-h', num: true, cell: (o) => fmt.n(o.prices.cpu) },
    { head: 'mem/GiB-h', num: true, cell: (o) => fmt.n(o.prices.memory) },
    { head: 'attributes', cell: (o) => o.attributes.join(', ') },
    { head: 'renewed', cell: (o) => fmt.ago(o.renewed) }
  ]

  const nodeFree = (k) => ({
    head: k,
    num: true,
    cell: (n) => (n.total[k] ? `${fmt.amount(k, n.free[k])} / ${fmt.amount(k, n.total[k])}` : '-')
  })
  const NODE_COLUMNS = [
    { head: 'node', mono: true, cell: (n) => link(`#/node/${n.node}`, fmt.short(n.node)) },
    { head: 'where', cell: (n) => `${n.country} ${n.city}` },
    ...KINDS.map(nodeFree),
    { head: 'core+GiB/h', num: true, cell: (n) => fmt.n(n.price) },
    { head: 'attributes', cell: (n) => n.attributes.join(', ') },
    { head: 'leases', num: true, cell: (n) => n.leases },
    { head: 'offer', cell: (n) => n.offer },
    {
      head: 'online',
      cell: (n) =>
        h('span', {
          class: `badge ${n.online ? 'good' : 'bad'}`,
          text: n.online ? 'online' : n.presence
        })
    },
    { head: 'last seen', cell: (n) => fmt.ago(n.lastSeen) }
  ]

  const CONTRACT_COLUMNS = [
    {
      head: 'contract',
      mono: true,
      cell: (c) => link(`#/contract/${c.contract}`, fmt.short(c.contract))
    },
    { head: 'bot', mono: true, cell: (c) => fmt.short(c.bot) },
    { head: 'state', cell: (c) => c.state },
    { head: 'replicas', num: true, cell: (c) => c.replicas },
    { head: 'nodes', mono: true, cell: (c) => c.nodes.map(fmt.short).join(' ') },
    { head: 'price/h', num: true, cell: (c) => fmt.n(c.pricePerHour) },
    { head: 'escrow', num: true, cell: (c) => fmt.n(c.escrow) },
    { head: 'paid', num: true, cell: (c) => fmt.n(c.paid) },
    { head: 'since', cell: (c) => fmt.ago(c.start) }
  ]

  const byNewest = (a, b) => b.matchedAt - a.matchedAt

  // --- pages ---------------------------------------------------------------------------------------------

  const pages = {}

  pages.overview = async function (_, paint) {
    const [o, prices, trades, offers] = await Promise.all([
      api('overview'),
      api(`prices?range=${state.priceRange}`),
      api('trades'),
      api('offers')
    ])
    const card = (label, value, sub, delta) =>
      h(
        'div',
        { class: 'card' },
        h('div', { class: 'label', text: label }),
        h('div', { class: 'value', text: value }),
        h('div', { class: 'sub' }, sub, delta ? ' · ' : '', delta || '')
      )
    const bars = h('div', { class: 'bars panel', id: 'utilisation' })
    const chart = h('div', { class: 'chart price-chart', id: 'price-cpu' })
    const depth = h('div', { class: 'chart depth-chart', id: 'depth-cpu' })
    paint(
      h(
        'div',
        { class: 'cards', id: 'cards' },
        card(
          'nodes online',
          fmt.n(o.nodes.online),
          `of ${fmt.n(o.nodes.offering)} offering`,
          change(o.nodes.offers)
        ),
        card(
          'live contracts',
          fmt.n(o.contracts.live),
          `${fmt.n(o.contracts.leases.now)} leases`,
          change(o.contracts.leases)
        ),
        card('trades, 24 h', fmt.n(o.trades.now), 'matched', change(o.trades)),
        card('volume, 24 h', fmt.n(o.volume.now), 'settled value', change(o.volume))
      ),
      h(
        'h2',
        {},
        'Capacity leased ',
        h('small', { text: 'of the live offers, and its change over 24 h' })
      ),
      bars,
      h(
        'div',
        { class: 'grid2' },
        h(
          'div',
          {},
          h(
            'h2',
            {},
            'cpu price ',
            h('small', { text: `median per core-hour with min-max, last ${prices.range}` })
          ),
          h('div', { class: 'panel' }, chart)
        ),
        h(
          'div',
          {},
          h('h2', {}, 'cpu book depth ', h('small', { text: 'cores offered vs asked, by price' })),
          h('div', { class: 'panel' }, depth)
        )
      ),
      h(
        'div',
        { class: 'grid2' },
        h(
          'div',
          {},
          h('h2', { text: 'Latest trades' }),
          h(
            'div',
            { class: 'panel' },
            table(
              'trades',
              TRADE_COLUMNS.slice(0, 6).concat(TRADE_COLUMNS[7]),
              trades.sort(byNewest).slice(0, 12),
              (t) => t.id
            )
          )
        ),
        h(
          'div',
          {},
          h('h2', { text: 'Offers' }),
          h(
            'div',
            { class: 'panel' },
            table(
              'offers',
              OFFER_COLUMNS.filter((c) => !['ssd', 'hdd', 'attributes'].includes(c.head)),
              offers,
              (x) => x.node
            )
          )
        )
      )
    )
    charts.bars(
      bars,
      KINDS.filter((k) => o.capacity[k].total > 0).map((k) => {
        const c = o.capacity[k]
        const d =
          c.share.before === null
            ? 'new'
            : `${c.share.now >= c.share.before ? '+' : '−'}${fmt.pct(Math.abs(c.share.now - c.share.before))} in 24 h`
        return {
          label: k,
          used: c.leased,
          total: c.total,
          text: `${fmt.amount(k, c.leased)} of ${fmt.amount(k, c.total)} (${fmt.pct(c.leased / c.total)}) · ${d}`
        }
      })
    )
    charts.price(chart, prices, 'cpu')
    charts.depth(depth, prices.depth.cpu, 'cpu')
  }

  pages.prices = async function (_, paint) {
    const prices = await api(`prices?range=${state.priceRange}`)
    const ranges = h(
      'div',
      { class: 'tabs' },
      ['1h', '6h', '24h', '7d', '30d'].map((r) =>
        h('button', {
          class: r === state.priceRange ? 'here' : '',
          text: r,
          onclick: () => {
            state.priceRange = r
            show()
          }
        })
      )
    )
    if (
      !paint(
        h(
          'h2',
          {},
          'Traded unit prices ',
          h('small', { text: `median with min-max per ${prices.resolution}; book depth now` })
        ),
        ranges
      )
    )
      return
    for (const k of KINDS) {
      const s = prices.summary[k]
      const c = h('div', { class: 'chart price-chart', id: `price-${k}` })
      const d = h('div', { class: 'chart depth-chart', id: `depth-${k}` })
      main.append(
        h(
          'div',
          { class: 'grid2' },
          h(
            'div',
            {},
            h(
              'h2',
              {},
              `${k} `,
              h('small', {
                text: s
                  ? `${fmt.n(s.trades)} trades, median ${s.median}, ${s.min}-${s.max} per ${charts.UNITS[k].per}-hour`
                  : 'no trades'
              })
            ),
            h('div', { class: 'panel' }, c)
          ),
          h(
            'div',
            {},
            h(
              'h2',
              {},
              `${k} depth `,
              h('small', { text: `${charts.UNITS[k].per}s offered vs asked` })
            ),
            h('div', { class: 'panel' }, d)
          )
        )
      )
      charts.price(c, prices, k)
      charts.depth(d, prices.depth[k], k)
    }
  }

  const FILTERS = [
    ['country', 'country', 'CH'],
    ['attr', 'attributes', 'ssd'],
    ['min-cpu', 'free cores ≥', '2'],
    ['min-memory', 'free memory ≥', '4GiB'],
    ['min-ssd', 'free ssd ≥', '100GiB'],
    ['max-price', 'core+GiB/h ≤', '50']
  ]
  const nodeQuery = new URLSearchParams()

  pages.nodes = async function (_, paint) {
    const form = h(
      'form',
      { class: 'filters', id: 'node-filters' },
      FILTERS.map(([name, label, hint]) =>
        h(
          'label',
          {},
          label,
          h('input', { name, placeholder: hint, value: nodeQuery.get(name) || '' })
        )
      ),
      h(
        'label',
        {},
        'online only',
        h('input', {
          type: 'checkbox',
          name: 'online',
          ...(nodeQuery.get('online') ? { checked: '' } : {})
        })
      ),
      h('button', { type: 'submit', text: 'filter' })
    )
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      for (const [name] of FILTERS) nodeQuery.set(name, form.elements[name].value.trim())
      if (form.elements.online.checked) nodeQuery.set('online', '1')
      else nodeQuery.delete('online')
      nodesTable(out)
    })
    const out = h('div', { class: 'panel', id: 'nodes-panel' })
    paint(h('h2', { text: 'Nodes' }), form, out)
    await nodesTable(out)
  }

  /** The table alone, replaced once its rows are read: the form keeps what is being typed. */
  async function nodesTable(out) {
    const q = new URLSearchParams([...nodeQuery].filter(([, v]) => v !== ''))
    try {
      out.replaceChildren(table('nodes', NODE_COLUMNS, await api(`nodes?${q}`), (n) => n.node))
    } catch (err) {
      out.replaceChildren(h('div', { class: 'error', text: err.message }))
    }
  }

  pages.node = async function (key, paint) {
    const d = await api(`node/${encodeURIComponent(key)}`)
    const n = d.node
    const bars = h('div', { class: 'bars' })
    const strip = h('div', { class: 'strip', id: 'uptime' })
    paint(
      h('h2', {}, 'Node ', h('span', { class: 'mono', text: n.node })),
      h(
        'p',
        {},
        `${n.country} ${n.city} · `,
        h('span', {
          class: `badge ${n.online ? 'good' : 'bad'}`,
          text: n.online ? 'online' : n.presence
        }),
        ` · last seen ${fmt.ago(n.lastSeen)} · offer ${n.offer} · ${n.leases} leases · attributes: ${n.attributes.join(', ') || '-'}`
      ),
      h(
        'div',
        { class: 'grid2' },
        h('div', {}, h('h2', { text: 'Capacity leased' }), h('div', { class: 'panel' }, bars)),
        h('div', {}, h('h2', { text: 'Offer' }), h('div', { class: 'panel' }, offer(d.offer)))
      ),
      h(
        'h2',
        {},
        'Uptime, 7 days ',
        h('small', {
          text: `${d.uptime.share === null ? 'no renewal yet' : fmt.pct(d.uptime.share)} · green: renewed its offer, dark green: signed presence or status, red: nothing signed`
        })
      ),
      h('div', { class: 'panel' }, strip),
      h('h2', { text: 'Latest trades' }),
      h(
        'div',
        { class: 'panel' },
        table('node-trades', TRADE_COLUMNS, d.trades, (t) => t.id)
      ),
      h('h2', {}, 'Status core ', h('small', { text: 'signed by the node' })),
      h(
        'div',
        { class: 'panel' },
        d.events === null
          ? h('p', { class: 'dim', text: d.statusError || 'not read' })
          : table(
              'events',
              [
                { head: 'when', cell: (e) => fmt.ago(e.time) },
                { head: 'workload', mono: true, cell: (e) => fmt.trade(e.workload) },
                { head: 'state', cell: (e) => e.state },
                { head: 'reason', wrap: true, cell: (e) => e.reason || '' }
              ],
              d.events,
              (e) => `${e.time}.${e.workload}`
            )
      )
    )
    charts.bars(
      bars,
      KINDS.filter((k) => n.total[k] > 0).map((k) => ({
        label: k,
        used: n.total[k] - n.free[k],
        total: n.total[k],
        text: `${fmt.amount(k, n.total[k] - n.free[k])} of ${fmt.amount(k, n.total[k])}`
      }))
    )
    charts.strip(strip, d.uptime)
  }

  function offer(o) {
    if (o === null) return h('p', { class: 'dim', text: 'no offer in the ledger' })
    const rows = [
      [
        'prices per hour',
        KINDS.filter((k) => o.resources[k] > 0)
          .map((k) => `${k} ${fmt.n(o.prices[k])}/${charts.UNITS[k].per}`)
          .join(', ')
      ],
      ['leases', `${Math.round(o.minLease / 60000)} min to ${Math.round(o.maxLease / 3600000)} h`],
      ['renewed', fmt.ago(o.renewed)],
      ['state', o.withdrawn ? 'withdrawn' : 'for sale']
    ]
    return h(
      'table',
      {},
      h(
        'tbody',
        {},
        rows.map(([k, v]) => h('tr', {}, h('th', { text: k }), h('td', { text: v })))
      )
    )
  }

  pages.contracts = async function (_, paint) {
    const rows = await api('contracts')
    paint(
      h(
        'h2',
        {},
        'Live contracts ',
        h('small', { text: 'settled trades grouped by contract core' })
      ),
      h(
        'div',
        { class: 'panel' },
        table('contracts', CONTRACT_COLUMNS, rows, (c) => c.contract)
      )
    )
  }

  pages.contract = async function (key, paint) {
    paint(h('p', { class: 'dim', text: 'reading the contract core and its nodes’ status cores…' }))
    const d = await api(`contract/${encodeURIComponent(key)}`)
    const m = d.manifest
    paint(
      h('h2', {}, 'Contract ', h('span', { class: 'mono', text: d.contract })),
      h(
        'p',
        {},
        h('span', {
          class: `badge ${d.verified ? 'good' : 'bad'}`,
          text: d.verified ? 'verified' : `not verified: ${d.error}`
        }),
        ` · bot ${fmt.short(d.bot)} · ${d.ledger.state} · ${d.ledger.replicas} replicas · ${fmt.n(d.ledger.pricePerHour)}/h`
      ),
      m === null
        ? ''
        : h('p', {
            text: `${m.name} v${m.version} · ${m.workloads.map((w) => `${w.name} (${w.kind}, ${w.replicas}× ${fmt.shape(w.resources)})`).join(', ')}`
          }),
      d.approvals === null
        ? ''
        : h('p', {
            class: 'dim',
            text: `approvals: weight ${d.approvals.weight} of ${d.approvals.threshold} needed`
          }),
      h('h2', { text: 'Replicas' }),
      h(
        'div',
        { class: 'panel' },
        table(
          'replicas',
          [
            { head: 'trade', mono: true, cell: (r) => fmt.trade(r.trade) },
            { head: 'workload', cell: (r) => r.workload || '-' },
            { head: 'node', mono: true, cell: (r) => link(`#/node/${r.node}`, fmt.short(r.node)) },
            { head: 'lease', cell: (r) => r.lease },
            {
              head: 'state (signed)',
              cell: (r) =>
                r.state ? `${r.state}${r.reason ? `: ${r.reason}` : ''}` : r.statusError || r.status
            },
            { head: 'since', cell: (r) => fmt.ago(r.since) }
          ],
          d.replicas,
          (r) => r.trade
        )
      ),
      ...d.replicas
        .filter((r) => r.logs.length > 0)
        .map((r) =>
          h(
            'div',
            {},
            h(
              'h2',
              {},
              'Logs ',
              h('small', { text: `${r.workload || ''} on ${fmt.short(r.node)}` })
            ),
            h('pre', { class: 'logs', text: r.logs.map((l) => l.text).join('\n') })
          )
        )
    )
  }

  pages.trades = async function (_, paint) {
    const all = new URLSearchParams(location.hash.split('?')[1] || '').get('all') === '1'
    const rows = (await api(all ? 'trades?all=1' : 'trades')).sort(byNewest)
    paint(
      h(
        'h2',
        {},
        all ? 'Every trade ' : 'Live trades ',
        h(
          'small',
          {},
          all ? link('#/trades', 'live only') : link('#/trades?all=1', 'the whole history')
        )
      ),
      h(
        'div',
        { class: 'panel' },
        table('trades', TRADE_COLUMNS, rows, (t) => t.id)
      )
    )
  }

  // --- routing and live updates --------------------------------------------------------------------------

  async function show() {
    const [path] = location.hash.replace(/^#\/?/, '').split('?')
    const [name, arg] = path.split('/')
    const page = pages[name || 'overview'] ? name || 'overview' : 'overview'
    state.page = page
    for (const a of document.querySelectorAll('nav a'))
      a.classList.toggle(
        'here',
        a.getAttribute('href') === `#/${name === 'overview' ? '' : name || ''}`
      )
    // a page read after the user went elsewhere paints nothing
    const gen = ++state.gen
    const paint = (...children) => {
      if (gen !== state.gen) return false
      main.replaceChildren(...children)
      return true
    }
    try {
      await pages[page](arg && decodeURIComponent(arg), paint)
    } catch (err) {
      paint(h('div', { class: 'error', text: err.message }))
    }
    document.body.dataset.page = page
    if (state.source === null) follow()
  }

  /** Pages whose figures are aggregates read anew (a second after the last change); tables take rows as they come. */
  function refreshSoon() {
    if (!['overview', 'prices', 'nodes'].includes(state.page)) return
    clearTimeout(state.timer)
    state.timer = setTimeout(() => {
      if (state.page === 'overview') refreshOverview()
      else if (state.page === 'nodes') nodesTable(document.getElementById('nodes-panel'))
      else show()
    }, 1000)
  }

  async function refreshOverview() {
    // keep the tables (and their fresh rows): only the cards and charts are read anew
    const keep = [document.getElementById('trades'), document.getElementById('offers')]
    await show()
    const now = [document.getElementById('trades'), document.getElementById('offers')]
    if (state.page === 'overview') keep.forEach((t, i) => t && now[i] && now[i].replaceWith(t))
  }

  function follow() {
    const source = new EventSource(
      `/api/events${state.eventId ? `?since=${encodeURIComponent(state.eventId)}` : ''}`
    )
    state.source = source
    source.addEventListener('open', () => {
      live.textContent = 'live'
      live.classList.add('on')
    })
    source.addEventListener('error', () => {
      live.textContent = 'reconnecting'
      live.classList.remove('on')
    })
    source.addEventListener('trade', (e) => {
      const t = JSON.parse(e.data)
      const all = location.hash.includes('all=1')
      upsert(
        document.getElementById('trades'),
        t,
        (x) => all || x.state === 'matched' || x.state === 'settled'
      )
      upsert(document.getElementById('node-trades'), t, (x) => location.hash.includes(x.node))
    })
    source.addEventListener('offer', (e) => {
      upsert(document.getElementById('offers'), JSON.parse(e.data), (o) => !o.withdrawn)
    })
    source.addEventListener('sync', (e) => {
      document.body.dataset.synced = JSON.parse(e.data).version
      refreshSoon()
    })
    source.addEventListener('presence', refreshSoon)
    source.addEventListener('reset', () => show())
  }

  window.addEventListener('hashchange', show)
  window.scitPage = { state }
  show()
})()
