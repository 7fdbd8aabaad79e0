import test from 'brittle'
import type { Assert } from 'brittle'
import http from 'http'
import { spawn } from 'child_process'
import { createInterface } from 'readline'
import { GiB } from '../lib/resources'
import { encodeKey } from '../lib/keys'
import type { Testnet } from '../lib/testnet'
import type { MarketPeer } from '../market/peer'
import { parseListen, isLoopbackHost, isLoopbackOrigin } from '../market/web/guard'
import { testnet } from './helpers/net'
import { peer, market, offerOp, bidOp } from './helpers/ledger'
import { marketJson, market as runMarket } from './helpers/explorer'
import { scitArgv, bareTest } from './helpers/runtime'
import type { Runtime } from '../lib/runtime'
import { browserTest, browser } from './helpers/browser'

/** Two nodes (CH at 10 per core-hour, DE at 20) and one trade on the cheaper. */
async function twoNodes(t: Assert, net: Testnet): Promise<{ m: MarketPeer; nodes: string[] }> {
  const m = await market(t, net)
  const nodes: string[] = []
  for (const [country, price] of [
    ['CH', 10],
    ['DE', 20]
  ] as const) {
    const p = await peer(t, net, { market: m.key, follow: true })
    const [o] = await p.client.submitAndWait([offerOp({ country, price })])
    t.ok(o.accepted, `the ${country} offer is final`)
    nodes.push(p.client.identity)
  }
  await trade(m)
  return { m, nodes }
}

/** A bid for one core and one GiB: it matches at once. Returns the trade's id. */
async function trade(m: MarketPeer): Promise<string> {
  const [o] = await m.client.submitAndWait([bidOp({ cpu: 1000, memory: GiB })])
  if (o.trades.length !== 1) throw new Error('the bid should have matched')
  return o.trades[0]
}

interface Served {
  url: string
  port: number
  stop: () => Promise<number | null>
}

/** `scit market web --listen 127.0.0.1:0 --json` as a child process, stopped at teardown. */
async function serve(
  t: Assert,
  net: Testnet,
  m: MarketPeer,
  runtime: Runtime = 'node'
): Promise<Served> {
  const bootstrap = net.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  const args = ['market', 'web', '--listen', '127.0.0.1:0', '--json', '--market', encodeKey(m.key)]
  const [file, ...pre] = scitArgv(runtime)
  const child = spawn(file, [...pre, ...args, '--bootstrap', bootstrap, '--data', await t.tmp()], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    return exited
  }
  t.teardown(stop, { order: -2 })
  // a test that throws ends brittle without its teardowns: the server must not outlive it
  const orphan = (): boolean => child.kill('SIGKILL')
  process.once('exit', orphan)
  child.once('exit', () => process.off('exit', orphan))
  for await (const line of createInterface({ input: child.stdout })) {
    const { url } = JSON.parse(line) as { url: string }
    return { url, port: Number(new URL(url).port), stop }
  }
  throw new Error(`scit market web exited ${await exited} before it printed its URL`)
}

function get(
  s: Served,
  path: string,
  opts: { headers?: Record<string, string>; method?: string } = {}
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: s.port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.headers
      },
      (res) => {
        let body = ''
        res.on('data', (d) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      }
    )
    req.on('error', reject)
    req.end()
  })
}

/** The events of a stream up to its first `sync` (what a client is sent before it is live). */
function eventsUntilSync(s: Served, headers: Record<string, string>): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port: s.port, path: '/api/events', headers },
      (res) => {
        let text = ''
        res.on('data', (d) => {
          text += d
          const blocks = text.split('\n\n')
          const sync = blocks.findIndex((b) => b.includes('event: sync'))
          if (sync < 0) return
          req.destroy()
          resolve(blocks.slice(0, sync).filter((b) => b.startsWith('event:')))
        })
      }
    )
    req.on('error', (err) => {
      if (!req.destroyed) reject(err)
    })
  })
}

test('web: --listen takes loopback only; Host and Origin must name this server', async (t) => {
  t.alike(parseListen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 })
  t.alike(parseListen('[::1]:8420'), { host: '::1', port: 8420 })
  t.exception(() => parseListen('0.0.0.0:8420'), /not a loopback address/)
  t.exception(() => parseListen('192.168.1.2:80'), /not a loopback address/)
  t.exception(() => parseListen('localhost'), /not host:port/)
  t.ok(isLoopbackHost('localhost:8420', 8420))
  t.absent(isLoopbackHost('localhost:8421', 8420), 'another port')
  t.absent(isLoopbackHost('evil.example:8420', 8420))
  t.absent(isLoopbackHost('127.0.0.1.evil.example:8420', 8420))
  t.absent(isLoopbackHost(undefined, 8420))
  t.ok(isLoopbackOrigin(undefined, 8420), 'a same-origin GET sends none')
  t.ok(isLoopbackOrigin('http://127.0.0.1:8420', 8420))
  t.absent(isLoopbackOrigin('http://evil.example', 8420))
  t.absent(isLoopbackOrigin('null', 8420))
})

test('web: refuses a foreign Host or Origin and writes; its API answers what scit market --json prints; a stream resumes by Last-Event-ID', async (t) => {
  const net = await testnet(t)
  const { m, nodes } = await twoNodes(t, net)
  const s = await serve(t, net, m)

  const page = await get(s, '/')
  t.is(page.status, 200)
  t.ok(page.body.includes('<script src="/app.js">'), 'the page, from the package')
  t.ok(
    String(page.headers['content-security-policy']).includes("default-src 'none'"),
    'a strict Content-Security-Policy'
  )
  const foreign = await get(s, '/api/offers', { headers: { Host: `evil.example:${s.port}` } })
  t.is(foreign.status, 403, 'a foreign Host is refused (DNS rebinding)')
  t.absent(foreign.body.includes(nodes[0]), 'and told nothing')
  const origin = await get(s, '/api/offers', { headers: { Origin: 'http://evil.example' } })
  t.is(origin.status, 403, 'a foreign Origin is refused')
  t.is((await get(s, '/api/offers', { method: 'POST' })).status, 405, 'read-only')
  t.is((await get(s, '/api/offers?color=red')).status, 400, 'an unknown filter is an error')

  const offers = JSON.parse((await get(s, '/api/offers')).body)
  t.alike(
    offers,
    await marketJson(t, net, m, ['offers']),
    '/api/offers = scit market offers --json'
  )
  t.alike(new Set(offers.map((o: { node: string }) => o.node)), new Set(nodes), 'both nodes offer')
  // presence and connections are each process's own look at the DHT: the rest is the ledger's
  const ledgerOnly = (rows: Array<Record<string, unknown>>): unknown =>
    rows.map((r) => {
      const out = { ...r }
      for (const k of ['online', 'connected', 'presence', 'lastSeen', 'presenceError'])
        delete out[k]
      return out
    })
  const ch = JSON.parse((await get(s, '/api/nodes?country=CH')).body)
  t.alike(
    ledgerOnly(ch),
    ledgerOnly(await marketJson(t, net, m, ['nodes', '--country', 'CH'])),
    '/api/nodes?country=CH = scit market nodes --country CH --json'
  )
  t.is(ch.length, 1)
  const prices = JSON.parse((await get(s, '/api/prices?range=1h')).body)
  const cli = await marketJson<typeof prices>(t, net, m, ['prices', '--range', '1h'])
  t.alike(
    [prices.history, prices.depth],
    [cli.history, cli.depth],
    '/api/prices = scit market prices --json'
  )
  t.alike(prices.summary.cpu, { trades: 1, min: 10, median: 10, max: 10 })
  const overview = JSON.parse((await get(s, '/api/overview')).body)
  const stats = await marketJson<{
    nodes: { offers: number }
    capacity: { sold: { cpu: number }; total: { cpu: number } }
  }>(t, net, m, ['stats'])
  t.is(overview.nodes.offering, stats.nodes.offers, 'nodes offering, as scit market stats counts')
  t.alike(
    [overview.capacity.cpu.leased, overview.capacity.cpu.total],
    [stats.capacity.sold.cpu, stats.capacity.total.cpu],
    'cpu leased of total, as scit market stats sums'
  )
  t.alike(overview.trades, { now: 1, before: null }, 'one trade in the last 24 h, in a new market')
  const terminal = await marketJson<typeof overview>(t, net, m, ['overview'])
  const same = (o: typeof overview): unknown => ({
    ...o,
    time: 0,
    nodes: { ...o.nodes, online: 0 }
  })
  t.alike(same(overview), same(terminal), '/api/overview = scit market overview --json')
  const detail = JSON.parse((await get(s, `/api/node/${nodes[0].slice(0, 10)}`)).body)
  const cliDetail = await marketJson<typeof detail>(t, net, m, ['node', nodes[0], '--timeout', '0'])
  t.alike(
    [detail.offer, detail.trades, detail.uptime.hours],
    [cliDetail.offer, cliDetail.trades, cliDetail.uptime.hours],
    '/api/node/KEY = scit market node KEY --json (by the first characters too)'
  )
  t.is(detail.trades.length, 1, 'the CH node sold the trade')
  t.is(detail.uptime.hours[detail.uptime.hours.length - 1], 'renewed', 'it offered this hour')
  t.is((await get(s, '/api/node/zzzzzzzz')).status, 404, 'an unknown node')
  const bad = await runMarket(t, net, m, ['web', '--listen', '0.0.0.0:8420'])
  t.is(bad.code, 1)
  t.ok(bad.stderr.startsWith('error INVALID_ARGUMENT: --listen'), bad.stderr)

  // a page read the view at `id`; a trade made after that is replayed to it when it comes back with that id
  const id = String((await get(s, '/api/trades')).headers['x-scit-event-id'])
  const made = await trade(m)
  while (!(await get(s, '/api/trades')).body.includes(made))
    await new Promise((r) => setTimeout(r, 100))
  const resumed = await eventsUntilSync(s, { 'Last-Event-ID': id })
  t.ok(
    resumed.some((e) => e.startsWith('event: trade') && e.includes(made)),
    'the trade it missed'
  )
  const fresh = await eventsUntilSync(s, {})
  t.absent(
    fresh.some((e) => e.includes(made)),
    'a new stream starts from now'
  )
  const elsewhere = await eventsUntilSync(s, { 'Last-Event-ID': 'ffffffff.1' })
  t.ok(elsewhere[0]?.startsWith('event: reset'), 'an id of another view: reload')
  t.is(await s.stop(), 0, 'scit market web stops cleanly on SIGTERM')
})

browserTest(
  'web: in chromium, the tables hold the nodes and offers, the price chart has points, a new trade appears live',
  { timeout: 180_000 },
  async (t) => {
    const net = await testnet(t)
    const { m, nodes } = await twoNodes(t, net)
    const s = await serve(t, net, m)
    const b = await browser(t)
    const page = await b.newPage({ viewport: { width: 1400, height: 1000 } })
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text())
    })
    await page.goto(s.url)

    await page.waitForSelector('#offers tbody tr[data-key]')
    const offered = await page.$$eval('#offers tbody tr', (rows) =>
      rows.map((r) => r.getAttribute('data-key'))
    )
    t.alike(new Set(offered), new Set(nodes), 'the offers table holds both nodes')
    await page.waitForSelector('#price-cpu[data-points]')
    t.is(await page.getAttribute('#price-cpu', 'data-points'), '1', 'one minute with a trade')
    // the median's colour, #4ea1ff, on the chart's canvas
    const drawn = await page.evaluate<number>(`(() => {
      const c = document.querySelector('#price-cpu canvas')
      const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data
      let n = 0
      for (let i = 0; i < px.length; i += 4)
        if (Math.abs(px[i] - 78) < 24 && Math.abs(px[i + 1] - 161) < 24 && px[i + 2] > 220) n++
      return n
    })()`)
    t.ok(drawn > 10, `the median is drawn (${drawn} pixels of its colour)`)
    await page.waitForSelector('#live.on')

    await page.evaluate('window.kept = true')
    const made = await trade(m)
    await page.waitForSelector(`#trades tr[data-key="${made}"]`, { timeout: 60_000 })
    t.pass('the new trade appeared in the trades table')
    t.ok((await page.evaluate('window.kept')) === true, 'without a reload')

    await page.click('nav a[href="#/nodes"]')
    await page.waitForSelector('#nodes tbody tr[data-key]')
    t.alike(
      new Set(
        await page.$$eval('#nodes tbody tr', (rows) => rows.map((r) => r.getAttribute('data-key')))
      ),
      new Set(nodes),
      'the nodes table holds both nodes'
    )
    await page.fill('#node-filters input[name=country]', 'DE')
    await page.click('#node-filters button')
    await page.waitForSelector(`#nodes tbody tr[data-key="${nodes[0]}"]`, { state: 'detached' })
    t.is(await page.locator('#nodes tbody tr').count(), 1)
    t.is(
      await page.getAttribute('#nodes tbody tr', 'data-key'),
      nodes[1],
      'filtered by country: the DE node'
    )
    t.alike(errors, [], 'no script error, nothing the CSP refused')
  }
)

bareTest('web: scit market web on Bare serves the same API, the page and its stream', async (t) => {
  const net = await testnet(t)
  const { m, nodes } = await twoNodes(t, net)
  const s = await serve(t, net, m, 'bare')
  const offers = JSON.parse((await get(s, '/api/offers')).body)
  t.alike(
    offers,
    await marketJson(t, net, m, ['offers']),
    'what scit market offers --json prints on Node'
  )
  t.is(offers.length, nodes.length)
  const overview = JSON.parse((await get(s, '/api/overview?')).body)
  t.is(overview.trades.now, 1, 'the overview, from the history records')
  t.ok((await get(s, '/')).body.includes('/app.js'), 'the page')
  t.is((await get(s, '/', { headers: { Host: `evil.example:${s.port}` } })).status, 403)
  const events = await eventsUntilSync(s, {})
  t.alike(events, [], 'the stream starts with sync')
  t.is(await s.stop(), 0, 'stops cleanly on SIGTERM')
})
