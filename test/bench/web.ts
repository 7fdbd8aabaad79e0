/**
 * The web page on a market with history (`npm run bench -- web`): one indexer on a local testnet takes N ops of a
 * steady trading market (200 nodes re-pricing their offers, 20 funded bots buying one core for an hour, settling
 * and closing each trade, so live state stays the same size while trades pile up), then a fresh
 * `scit market web` child process follows it and, at each N:
 *
 *   - each API answer: its first time (cold: the follower fetches what it reads) and the median of 5 more;
 *   - chromium loading the overview until its tables and charts are drawn, first and again (median of 5).
 *
 *   WEB_N=1000,100000 (default 1000,10000); SCIT_CHROMIUM as in the tests.
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import http from 'http'
import { spawn } from 'child_process'
import { createInterface } from 'readline'
import b4a from 'b4a'
import { startTestnet } from '../../lib/testnet'
import { generateKeyPair, KeyPair } from '../../lib/identity'
import { encodeKey } from '../../lib/keys'
import { MarketPeer } from '../../market/peer'
import { offerOp, bidOp, sealer, appendFinal } from '../helpers/ledger'
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/browser'

const CLI = path.join(__dirname, '..', '..', 'lib', 'cli.js')
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'scit-bench-web-'))

interface Trading {
  faucet: KeyPair
  nodes: KeyPair[]
  bots: KeyPair[]
  offered: Set<KeyPair>
  funded: boolean
  /** Matched, then settled: the order they are closed in. */
  matched: Array<{ bot: KeyPair; trade: string }>
  settled: Array<{ bot: KeyPair; trade: string }>
  i: number
}

/** Grow the market by n ops (about 40 % re-pricing, 20 % each bids, settles and closes), appended in blocks. */
async function grow(indexer: MarketPeer, m: Trading, n: number): Promise<void> {
  const envelopes: Buffer[] = []
  const push = sealer(envelopes)
  if (!m.funded) {
    for (const bot of m.bots)
      push(m.faucet, { type: 'deposit', body: { to: bot.publicKey, amount: 1e12 } })
    m.funded = true
  }
  for (let k = 0; k < n; k++, m.i++) {
    const step = m.i % 10
    const node = m.nodes[m.i % m.nodes.length]
    if (step < 4 || !m.offered.has(node)) {
      const offer = offerOp({ cpu: 64_000, memory: 256 * 2 ** 30, price: 10 + ((m.i >> 4) % 9) })
      push(node, m.offered.has(node) ? { type: 'offer-update', body: offer.body } : offer)
      m.offered.add(node)
    } else if (step < 6 || m.matched.length === 0) {
      const bot = m.bots[m.i % m.bots.length]
      const bid = push(bot, bidOp({ cpu: 1000, memory: 2 ** 30, maxPrice: 1_000_000 }))
      m.matched.push({ bot, trade: `${bid}.0` })
    } else if (step < 8 || m.settled.length === 0) {
      const t = m.matched.shift()!
      const body = {
        trade: t.trade,
        contract: b4a.alloc(32, m.i % 251),
        manifest: b4a.alloc(32, 1)
      }
      push(t.bot, { type: 'settle', body })
      m.settled.push(t)
    } else {
      const t = m.settled.shift()!
      push(t.bot, { type: 'close', body: { trade: t.trade, reason: 'done' } })
    }
  }
  const outcome = await appendFinal(indexer, envelopes, 300_000)
  if (!outcome.accepted) throw new Error(`the last op was refused: ${outcome.message ?? ''}`)
}

function get(port: number, p: string): Promise<{ ms: number; status: number; body: string }> {
  const started = process.hrtime.bigint()
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: p }, (res) => {
        let body = ''
        res.on('data', (d) => (body += d))
        res.on('end', () =>
          resolve({
            ms: Number(process.hrtime.bigint() - started) / 1e6,
            status: res.statusCode ?? 0,
            body
          })
        )
      })
      .on('error', reject)
  })
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const ms = (x: number): string => `${x.toFixed(0)} ms`

async function serve(
  market: string,
  bootstrap: string
): Promise<{ port: number; stop: () => void; joinMs: number }> {
  const started = Date.now()
  const child = spawn(
    process.execPath,
    [
      CLI,
      'market',
      'web',
      '--listen',
      '127.0.0.1:0',
      '--json',
      '--market',
      market,
      '--bootstrap',
      bootstrap,
      '--data',
      tmp()
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] }
  )
  for await (const line of createInterface({ input: child.stdout })) {
    const { url } = JSON.parse(line) as { url: string }
    return {
      port: Number(new URL(url).port),
      stop: () => child.kill('SIGTERM'),
      joinMs: Date.now() - started
    }
  }
  throw new Error('scit market web exited before it printed its URL')
}

async function page(port: number): Promise<{ first: number; again: number } | null> {
  if (!fs.existsSync(CHROMIUM)) return null
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { chromium } = require('playwright-core') as typeof import('playwright-core')
  const b = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  try {
    const times: number[] = []
    for (let i = 0; i < 6; i++) {
      const p = await b.newPage({ viewport: { width: 1400, height: 1000 } })
      const started = Date.now()
      await p.goto(`http://127.0.0.1:${port}/`)
      await p.waitForSelector('#offers tbody tr[data-key]', { timeout: 60_000 })
      await p.waitForSelector('#price-cpu[data-points]', { timeout: 60_000 })
      times.push(Date.now() - started)
      await p.close()
    }
    return { first: times[0], again: median(times.slice(1)) }
  } finally {
    await b.close()
  }
}

async function main(): Promise<void> {
  const steps = (process.env.WEB_N ?? '1000,10000').split(',').map(Number)
  const net = await startTestnet(3)
  const bootstrap = net.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  const founder = generateKeyPair()
  const faucet = generateKeyPair() // its seqs are the bench's own (the founder's first is the genesis)
  const indexer = new MarketPeer({
    data: tmp(),
    identity: founder,
    dht: net.createNode(),
    genesis: { faucets: [faucet.publicKey], settlementWindow: 600_000 }
  })
  await indexer.ready()
  const market = encodeKey(indexer.key)
  const m: Trading = {
    faucet,
    nodes: Array.from({ length: 200 }, () => generateKeyPair()),
    bots: Array.from({ length: 20 }, () => generateKeyPair()),
    offered: new Set(),
    funded: false,
    matched: [],
    settled: [],
    i: 0
  }
  const routes = [
    'overview',
    'prices?range=24h',
    'prices?range=1h',
    'nodes',
    'offers',
    'trades',
    'node/NODE'
  ]
  console.log(
    `| ops of history | web: joined | ${routes.map((r) => `/api/${r.replace('NODE', 'KEY')} first, then`).join(' | ')} | chromium: overview drawn, first, then |`
  )
  console.log(`|---|---|${routes.map(() => '---|').join('')}---|`)
  let grown = 0
  for (const n of steps) {
    await grow(indexer, m, n - grown)
    grown = n
    const web = await serve(market, bootstrap)
    try {
      const cells: string[] = []
      const node = encodeKey(m.nodes[0].publicKey)
      for (const r of routes) {
        const p = `/api/${r.replace('NODE', node)}`
        const first = await get(web.port, p)
        if (first.status !== 200) throw new Error(`${p}: ${first.status} ${first.body}`)
        const again: number[] = []
        for (let i = 0; i < 5; i++) again.push((await get(web.port, p)).ms)
        cells.push(`${ms(first.ms)}, ${ms(median(again))}`)
      }
      const loaded = await page(web.port)
      console.log(
        `| ${n.toLocaleString('en')} | ${(web.joinMs / 1000).toFixed(1)} s | ${cells.join(' | ')} | ${loaded === null ? 'no chromium' : `${ms(loaded.first)}, ${ms(loaded.again)}`} |`
      )
    } finally {
      web.stop()
    }
  }
  await indexer.close()
  await net.destroy()
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
