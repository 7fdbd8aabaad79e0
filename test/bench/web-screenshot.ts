/**
 * The README's picture of `scit market web` (docs/web-overview.png): a market on a local testnet given 30 hours
 * of history at once (ops signed with the times they would have had: ten nodes renewing and re-pricing their
 * offers every 10 minutes, bots buying, settling and closing leases), the nodes' presence records on the DHT,
 * then the page in chromium.
 *
 *   node dist/test/bench/web-screenshot.js docs/web-overview.png
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import b4a from 'b4a'
import { startTestnet } from '../../lib/testnet'
import { generateKeyPair, KeyPair } from '../../lib/identity'
import { seal, TypeName, envelopeId } from '../../lib/envelope'
import { GiB, resources } from '../../lib/resources'
import { encodeBody } from '../../market/engine/ops'
import { MarketPeer } from '../../market/peer'
import { WebServer } from '../../market/web/server'
import { Presence } from '../../node/presence'
import type { OpRequest, OfferBody } from '../../market/types'
import { appendFinal } from '../helpers/ledger'
import { prng } from '../helpers/market'
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/browser'

const HOUR = 3_600_000
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'scit-shot-'))
const PLACES = [
  ['CH', 'Zurich'],
  ['DE', 'Frankfurt'],
  ['NL', 'Amsterdam'],
  ['FR', 'Paris'],
  ['CH', 'Geneva'],
  ['DE', 'Berlin'],
  ['SE', 'Stockholm'],
  ['US', 'Ashburn'],
  ['NL', 'Rotterdam'],
  ['BE', 'Brussels']
]

async function main(): Promise<void> {
  const out = process.argv[2] ?? 'web-overview.png'
  const rand = prng(29)
  const net = await startTestnet(3)
  const founder = generateKeyPair()
  const faucet = generateKeyPair()
  const start = Date.now() - 30 * HOUR
  const indexer = new MarketPeer({
    now: () => start - 60_000, // the genesis: engine time only moves forward from it
    data: tmp(),
    identity: founder,
    dht: net.createNode(),
    genesis: { faucets: [faucet.publicKey], settlementWindow: 600_000 }
  })
  await indexer.ready()

  const seqs = new Map<KeyPair, number>()
  const envelopes: Buffer[] = []
  const push = (author: KeyPair, op: OpRequest, at: number): string => {
    const seq = (seqs.get(author) ?? 0) + 1
    seqs.set(author, seq)
    const e = seal(author, {
      type: op.type as TypeName,
      seq,
      timestamp: Math.round(at),
      body: encodeBody(op.type as never, op.body as never)
    })
    envelopes.push(e)
    return envelopeId(e)
  }
  const nodes = PLACES.map(([country, city], i) => ({
    key: generateKeyPair(),
    body: {
      resources: resources({
        cpu: 16_000 * (1 + (i % 3)),
        memory: 64 * GiB,
        ssd: 2048 * GiB,
        hdd: i % 2 === 0 ? 8192 * GiB : 0
      }),
      prices: resources({ cpu: 9 + (i % 5), memory: 1, ssd: 1, hdd: 1 }),
      country,
      city,
      attributes: i % 2 === 0 ? ['hdd', 'ssd'] : ['ssd'],
      minLease: 60_000,
      maxLease: 365 * 24 * HOUR
    } as OfferBody
  }))
  const bots = Array.from({ length: 6 }, () => generateKeyPair())
  for (const bot of bots)
    push(faucet, { type: 'deposit', body: { to: bot.publicKey, amount: 1e9 } }, start)
  const leases: Array<{ bot: KeyPair; trade: string; until: number }> = []
  const matched: Array<{ bot: KeyPair; trade: string }> = []
  for (let t = start, tick = 0; t < Date.now() - 60_000; t += 10 * 60_000, tick++) {
    // demand rises in the afternoon; prices follow it a little
    const busy = 0.5 + 0.5 * Math.sin((((t / HOUR) % 24) / 24) * 2 * Math.PI)
    nodes.forEach((n, i) => {
      if (tick % 18 === i % 18)
        n.body.prices.cpu = Math.max(6, n.body.prices.cpu + (rand() < 0.3 + busy * 0.4 ? 1 : -1))
      push(n.key, { type: tick === 0 ? 'offer' : 'offer-update', body: n.body }, t + i * 1000)
    })
    for (const m of matched.splice(0)) {
      const body = {
        trade: m.trade,
        contract: b4a.from(generateKeyPair().publicKey),
        manifest: b4a.alloc(32, 1)
      }
      push(m.bot, { type: 'settle', body }, t + 20_000)
      leases.push({ ...m, until: t + (2 + rand() * 10) * HOUR })
    }
    for (const l of leases.filter((x) => x.until < t)) {
      push(l.bot, { type: 'close', body: { trade: l.trade, reason: 'done' } }, t + 30_000)
      leases.splice(leases.indexOf(l), 1)
    }
    for (let b = 0; b < Math.round(busy * 3 + rand() * 2); b++) {
      const bot = bots[Math.floor(rand() * bots.length)]
      const cores = 1 + Math.floor(rand() * 4)
      const body = {
        resources: resources({ cpu: cores * 1000, memory: cores * 2 * GiB, ssd: 20 * GiB }),
        replicas: 1 + Math.floor(rand() * 2),
        countries: [],
        attributes: [],
        spread: true,
        maxPrice: 1_000_000,
        duration: 24 * HOUR,
        expiry: t + HOUR,
        exclude: []
      }
      const id = push(bot, { type: 'bid', body }, t + 40_000 + b * 1000)
      for (let r = 0; r < body.replicas; r++) matched.push({ bot, trade: `${id}.${r}` })
    }
  }
  await appendFinal(indexer, envelopes, 300_000)

  const swarm = net.createSwarm()
  const presences = nodes.map(
    (n) =>
      new Presence({
        swarm,
        identity: n.key,
        record: {
          market: indexer.key,
          resources: n.body.resources,
          free: n.body.resources,
          prices: n.body.prices,
          country: n.body.country,
          city: n.body.city,
          attributes: n.body.attributes,
          statusCore: b4a.alloc(32, 2),
          logCore: b4a.alloc(32, 3)
        }
      })
  )
  for (const p of presences.slice(0, 9)) await p.ready() // one node is offline

  const follower = new MarketPeer({
    data: tmp(),
    identity: null,
    market: indexer.key,
    dht: net.createNode(),
    follow: true,
    announce: false
  })
  await follower.ready()
  await follower.ledger.catchUp()
  const web = new WebServer({ peer: follower, port: 0 })
  await web.ready()
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { chromium } = require('playwright-core') as typeof import('playwright-core')
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  const page = await browser.newPage({ viewport: { width: 1400, height: 1080 } })
  await new Promise((resolve) => setTimeout(resolve, 5000)) // the server's first round of presence lookups
  await page.goto(web.url)
  await page.waitForSelector('#price-cpu[data-points]')
  await page.waitForSelector('#live.on')
  await page.screenshot({ path: out })
  console.log(`${out}: ${envelopes.length} ops over 30 h, ${web.url}`)
  await browser.close()
  await web.close()
  process.exit(0) // the rest is a testnet in this process
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
