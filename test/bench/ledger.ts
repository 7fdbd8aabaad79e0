/**
 * Market ledger benchmarks on a local testnet (127.0.0.1), every peer in
 * this process over real Hyperswarm connections, 3 indexers:
 *
 *   1. bid → trade final latency, p50 and p99: 50 offers, then 1,000 bids
 *      from 4 bot identities sent at a steady rate, each timed from append
 *      to final (all ops go through one client peer: see below);
 *   2. ledger ops/s end to end: bots submit bids in batches, timed until
 *      every one is final (indexed by a quorum) on the bots' own peers;
 *   3. RSS (whole process, all peers) and heap.
 *
 *   npx tsc -p . --outDir .dist-b && node .dist-b/test/bench/ledger.js
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { startTestnet, Testnet } from '../../lib/testnet'
import { generateKeyPair, KeyPair } from '../../lib/identity'
import { seal, envelopeId } from '../../lib/envelope'
import { encodeBody } from '../../market/messages'
import { MarketPeer, MarketPeerOptions } from '../../market/peer'
import { addIndexer } from '../../market/indexers'
import { offerOp, bidOp } from '../helpers/ledger'
import type { OfferBody, BidBody, Outcome } from '../../market/types'

const ACK_INTERVAL = Number(process.env.ACK_INTERVAL ?? 50)
const dirs: string[] = []

async function open (net: Testnet, opts: Partial<MarketPeerOptions>): Promise<MarketPeer> {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-bench-ledger-'))
  dirs.push(data)
  const p = new MarketPeer({ data, identity: generateKeyPair(), dht: net.createNode(), ackInterval: ACK_INTERVAL, ...opts } as MarketPeerOptions)
  await p.ready()
  return p
}

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MiB`

async function main (): Promise<void> {
  const net = await startTestnet(3)
  const peers: MarketPeer[] = []
  try {
    const founder = generateKeyPair()
    const a = await open(net, { identity: founder, genesis: { faucets: [founder.publicKey], settlementWindow: 3600_000 } })
    const b = await open(net, { market: a.key })
    const c = await open(net, { market: a.key })
    peers.push(a, b, c)
    await addIndexer([a], b)
    await addIndexer([a, b], c)
    console.log(`3 indexers up (ack interval ${ACK_INTERVAL} ms)`)

    // One client peer carries the 50 nodes' offers and the 4 bots' bids: each op is signed by its own author's key
    // (an envelope's author need not be its writer), and the process runs 4 peers rather than 58.
    const client = await open(net, { market: a.key })
    peers.push(client)
    const authors = new Map<KeyPair, number>()
    const sealAs = (kp: KeyPair, type: 'offer' | 'bid', body: Buffer): Buffer => {
      const seq = (authors.get(kp) ?? 0) + 1
      authors.set(kp, seq)
      return seal(kp, { type, seq, timestamp: Date.now(), body })
    }
    const final = (e: Buffer): Promise<Outcome> => client.client.outcome(envelopeId(e), { final: true, timeout: 300_000 })

    const offer = encodeBody('offer', offerOp({ cpu: 64_000, memory: 1024 ** 4 }).body as OfferBody)
    const offers = Array.from({ length: 50 }, () => sealAs(generateKeyPair(), 'offer', offer))
    await client.ledger.append(offers)
    await Promise.all(offers.map(final))
    console.log('50 offers final')

    // 1. Latency: 1,000 bids from 4 bot identities, BATCH per append, one append every GAP ms.
    const bots = Array.from({ length: 4 }, () => generateKeyPair())
    const BATCH = Number(process.env.BATCH ?? 10)
    const GAP = Number(process.env.GAP ?? 50)
    const bid = encodeBody('bid', bidOp({ cpu: 500, maxPrice: 10_000_000 }).body as BidBody)
    const latencies: number[] = []
    let matched = 0
    const waits: Array<Promise<void>> = []
    for (let i = 0; i < 1000; i += BATCH) {
      const sent = Date.now()
      const batch = Array.from({ length: BATCH }, (_, j) => sealAs(bots[(i + j) % bots.length], 'bid', bid))
      await client.ledger.append(batch)
      for (const e of batch) {
        waits.push(final(e).then(o => {
          latencies.push(Date.now() - sent)
          if (o.trades.length > 0) matched++
        }))
      }
      await new Promise(resolve => setTimeout(resolve, GAP))
    }
    await Promise.all(waits)
    latencies.sort((x, y) => x - y)
    console.log(`bid → trade final: ${latencies.length} bids (${BATCH} per append every ${GAP} ms), ${matched} traded; p50 ${percentile(latencies, 0.5)} ms, p99 ${percentile(latencies, 0.99)} ms, max ${latencies[latencies.length - 1]} ms`)

    // 2. Throughput: TOTAL bids at once, 500 per block; they rest (max price 0). Timed until all are final.
    const TOTAL = Number(process.env.TOTAL ?? 4000)
    const resting = encodeBody('bid', bidOp({ cpu: 1000, maxPrice: 0 }).body as BidBody)
    const all = Array.from({ length: TOTAL }, (_, i) => sealAs(bots[i % bots.length], 'bid', resting))
    const before = peers.map(p => p.ledger.counters.envelopes)
    const t0 = Date.now()
    await client.ledger.append(all)
    await Promise.all(all.map(final))
    const secs = (Date.now() - t0) / 1000
    console.log(`ledger: ${TOTAL} ops final in ${secs.toFixed(2)} s = ${Math.round(TOTAL / secs)} ops/s`)
    const runs = peers.map((p, i) => p.ledger.counters.envelopes - before[i])
    console.log(`  engine runs per peer (re-runs after reorgs included): ${runs.join(' ')}; ${Math.round(runs.reduce((x, y) => x + y, 0) / secs)} engine runs/s in this process`)

    const mem = process.memoryUsage()
    console.log(`memory: rss ${mib(mem.rss)} for ${peers.length} peers in one process (3 indexers, 1 client), heap used ${mib(mem.heapUsed)}`)
  } finally {
    for (const p of peers.reverse()) await p.close().catch(err => console.error('close failed:', err))
    await net.destroy().catch(() => {})
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
  }
}

main().catch(err => {
  console.error(err)
  process.exitCode = 1
})
