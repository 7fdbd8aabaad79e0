/**
 * Market ledger benchmarks on a local testnet (127.0.0.1), 3 indexers each in its own process (as on their own
 * machines; test/bench/ledger-indexer.ts) and bots in this one, over real Hyperswarm connections. The bots' peer is
 * what a bot runs: a follower that sends its ops through a relay (an indexer) and reads the indexers' signed view,
 * so "final" is what a bot waits for.
 *
 *   1. bid → final outcome, p50 and p99: 50 offers, then BIDS bids (default 1,000) from 20 bot identities at RATE
 *      bids/s (default 90), each appended alone, on a fixed schedule whatever the market does (open loop), each
 *      timed from its append to its final outcome;
 *   2. ops/s end to end: TOTAL bids (default 4,000) appended at once, timed until every one is final;
 *   3. CPU time and RSS of each indexer and of the bots' process;
 *   4. where a bid's time goes (market/timeline.ts: to the relay, its signature check, its queue, Autobase's append
 *      and apply, to final, to signed, to the bot), and what each indexer spent per stage.
 *
 *   npm run bench -- ledger     (RATE, BIDS, TOTAL, ACK_INTERVAL, BIG=0, DECILES=1, TRACE=<dir> to vary it)
 *
 * FULL=1 makes the bots' peer apply the market itself (as every peer did before followers; RELAY=0 then appends
 * its ops in optimistic blocks instead of through a relay).
 */
import path from 'path'
import fs from 'fs'
import os from 'os'
import { startTestnet } from '../../lib/testnet'
import { generateKeyPair, KeyPair } from '../../lib/identity'
import { seal, envelopeId } from '../../lib/envelope'
import { encodeBody } from '../../market/engine/ops'
import { MarketPeer } from '../../market/peer'
import { offerOp, bidOp } from '../helpers/ledger'
import type { OfferBody, BidBody, Outcome } from '../../market/types'
import { Indexer, startIndexers, closeIndexers, Stats } from './indexers'
import { isScitError } from '../../lib/errors'
import safetyCatch from 'safety-catch'

const ACK_INTERVAL = Number(process.env.ACK_INTERVAL ?? 20)
const FULL = process.env.FULL === '1'
const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback)

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MiB`
const secs = (us: number): string => (us / 1e6).toFixed(1)

async function main(): Promise<void> {
  const net = await startTestnet(3)
  const indexers: Indexer[] = []
  let client: MarketPeer | null = null
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-bench-ledger-'))
  try {
    const market = await startIndexers(net, 3, indexers, { ACK_INTERVAL: String(ACK_INTERVAL) })
    console.log(
      `3 indexers up, one process each (ack interval ${ACK_INTERVAL} ms, big batches ${process.env.BIG === '0' ? 'off' : 'on'}); the bots' peer ${FULL ? `applies the market (its ops ${process.env.RELAY === '0' ? 'in its own optimistic blocks' : 'through a relay'})` : 'follows the signed view, its ops through a relay'}`
    )

    // One peer carries the 50 nodes' offers and the bots' bids: each op is signed by its own author's key
    // (an envelope's author need not be the peer that sends it), so the process runs one peer rather than 70.
    client = new MarketPeer({
      data,
      identity: generateKeyPair(),
      dht: net.createNode(),
      market: Buffer.from(market, 'hex'),
      follow: !FULL,
      announce: false,
      ackInterval: ACK_INTERVAL,
      bigBatches: process.env.BIG !== '0',
      relay: process.env.RELAY !== '0'
    })
    await client.ready()
    const peer = client
    const seqs = new Map<KeyPair, number>()
    const sealAs = (kp: KeyPair, type: 'offer' | 'bid', body: Buffer): Buffer => {
      const seq = (seqs.get(kp) ?? 0) + 1
      seqs.set(kp, seq)
      return seal(kp, { type, seq, timestamp: Date.now(), body })
    }
    const final = (e: Buffer): Promise<Outcome> =>
      peer.client.outcome(envelopeId(e), { final: true, timeout: 300_000 })

    const offer = encodeBody('offer', offerOp({ cpu: 64_000, memory: 1024 ** 4 }).body as OfferBody)
    const offers = Array.from({ length: 50 }, () => sealAs(generateKeyPair(), 'offer', offer))
    await Promise.all([...offers.map(final), peer.ledger.append(offers).catch(resent)])
    console.log('50 offers final')

    const before = await Promise.all(indexers.map((i) => i.stats()))
    await latency(peer, indexers, sealAs, final)
    const after = await Promise.all(indexers.map((i) => i.stats()))
    console.log(`  ${work(before, after)}`)
    for (const line of costs(before, after)) console.log(`  ${line}`)
    await throughput(peer, indexers, sealAs, final)
  } finally {
    if (client !== null) await client.close().catch((err) => console.error('close failed:', err))
    await closeIndexers(indexers)
    await net.destroy().catch(safetyCatch)
    fs.rmSync(data, { recursive: true, force: true })
  }
}

/** What the indexers did between two stats. */
function work(before: Stats[], after: Stats[]): string {
  const d = (f: (s: Stats) => number): string => after.map((s, i) => f(s) - f(before[i])).join(' ')
  return `engine runs (re-runs after reorgs included) ${d((s) => s.envelopes)}; apply calls ${d((s) => s.applies)}; offer books rebuilt ${d((s) => s.bookLoads)}; cpu ${after.map((s, i) => (s.cpu - before[i].cpu).toFixed(1)).join(' ')} s`
}

/** Each indexer's stages between two stats: count and µs per (apply calls, engine runs, appends, acks, reorgs). */
function costs(before: Stats[], after: Stats[]): string[] {
  return after.map((s, i) => {
    const parts = Object.entries(s.costs).map(([stage, c]) => {
      const b = before[i].costs[stage] ?? { n: 0, us: 0 }
      const n = c.n - b.n
      const per = n > 0 ? Math.round((c.us - b.us) / n) : 0
      return `${stage} ${n}${per > 0 ? ` × ${per} µs` : ''}`
    })
    return `indexer ${i + 1}: ${parts.join(', ')}`
  })
}

const STEPS = [
  'to the relay',
  'signatures',
  'queue',
  'append+apply',
  'to final',
  'to signed',
  'to the bot'
]

/** Per op, the ms between stages (the bot's send, the relay's stages, the bot seeing it final); p50/p99 of each. */
async function stages(
  indexers: Indexer[],
  sent: Map<string, number>,
  seen: Map<string, number>
): Promise<string> {
  const lines = await Promise.all(indexers.map((i) => i.timeline()))
  const gaps: number[][] = STEPS.map(() => [])
  for (const [id, t0] of sent) {
    // The relay's own timeline: the one indexer that received the op.
    const times = lines.map((l) => l.get(id)).find((t) => t?.[0] != null)
    const t1 = seen.get(id)
    if (times === undefined || t1 === undefined || times.length < 6) continue
    const all = [t0, ...times, t1]
    for (let k = 0; k < gaps.length; k++) gaps[k].push(all[k + 1] - all[k])
  }
  return gaps
    .map((g, k) => {
      g.sort((x, y) => x - y)
      return `${STEPS[k]} ${percentile(g, 0.5)}/${percentile(g, 0.99)}`
    })
    .join(', ')
}

/** A relay that did not take ops within 15 s: the follower keeps them and sends them again, as for a bot. */
function resent(err: unknown): void {
  if (!isScitError(err, 'TIMEOUT')) throw err
}

type Seal = (kp: KeyPair, type: 'offer' | 'bid', body: Buffer) => Buffer
type Final = (e: Buffer) => Promise<Outcome>

/** BIDS bids at RATE per second, each appended alone on a fixed schedule, timed to its final outcome. */
async function latency(
  peer: MarketPeer,
  indexers: Indexer[],
  sealAs: Seal,
  final: Final
): Promise<void> {
  const RATE = env('RATE', 90)
  const BIDS = env('BIDS', 1000)
  const bots = Array.from({ length: 20 }, () => generateKeyPair())
  const bid = encodeBody('bid', bidOp({ cpu: 500, maxPrice: 10_000_000 }).body as BidBody)
  const latencies: number[] = []
  const appends: number[] = []
  const waits: Array<Promise<void>> = []
  let matched = 0
  let sent = 0
  let late = 0
  const sentAt = new Map<string, number>()
  const seenAt = new Map<string, number>()
  const start = Date.now()
  const one = (): void => {
    const e = sealAs(bots[sent++ % bots.length], 'bid', bid)
    const t = Date.now()
    sentAt.set(envelopeId(e), t)
    waits.push(
      final(e).then((o) => {
        seenAt.set(envelopeId(e), Date.now())
        latencies.push(Date.now() - t)
        if (o.trades.length > 0) matched++
      }),
      peer.ledger.append([e]).then(
        () => {
          appends.push(Date.now() - t)
        },
        (err: unknown) => {
          resent(err)
          late++
        }
      )
    )
  }
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(BIDS, Math.floor(((Date.now() - start) * RATE) / 1000) + 1)
      while (sent < due) one()
      if (sent >= BIDS) resolve()
      else setTimeout(tick, 2)
    }
    tick()
  })
  const rate = Math.round(BIDS / ((Date.now() - start) / 1000))
  await Promise.all(waits)
  latencies.sort((x, y) => x - y)
  appends.sort((x, y) => x - y)
  if (process.env.DECILES !== undefined)
    console.log(
      '  deciles',
      [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9].map((p) => percentile(latencies, p)).join(' ')
    )
  console.log(
    `bid → final: ${BIDS} bids, one per append, at ${rate} bids/s (${matched} traded): p50 ${percentile(latencies, 0.5)} ms, p99 ${percentile(latencies, 0.99)} ms, max ${latencies[latencies.length - 1]} ms (the relay took each in: p50 ${percentile(appends, 0.5)} ms, p99 ${percentile(appends, 0.99)} ms${late > 0 ? `; ${late} not within 15 s, sent again` : ''})`
  )
  console.log(`  where a bid's time goes, ms p50/p99: ${await stages(indexers, sentAt, seenAt)}`)
}

/** TOTAL resting bids (max price 0) appended at once, timed until all are final. */
async function throughput(
  peer: MarketPeer,
  indexers: Indexer[],
  sealAs: Seal,
  final: Final
): Promise<void> {
  const TOTAL = env('TOTAL', 4000)
  const bots = Array.from({ length: 4 }, () => generateKeyPair())
  const resting = encodeBody('bid', bidOp({ cpu: 1000, maxPrice: 0 }).body as BidBody)
  const all = Array.from({ length: TOTAL }, (_, i) => sealAs(bots[i % bots.length], 'bid', resting))
  const before = await Promise.all(indexers.map((i) => i.stats()))
  const clientBefore = peer.ledger.counters.envelopes
  const t0 = Date.now()
  const cpu0 = process.cpuUsage()
  const landed: number[] = []
  const waits = all.map((e) => final(e).then(() => landed.push(Date.now() - t0)))
  const appended = peer.ledger.append(all).then(
    () => `${Date.now() - t0} ms`,
    (err: unknown) => {
      resent(err)
      return 'more than 15 s (sent again)'
    }
  )
  await Promise.all(waits)
  const seconds = (Date.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const after = await Promise.all(indexers.map((i) => i.stats()))
  console.log(
    `ledger: ${TOTAL} ops final in ${seconds.toFixed(2)} s = ${Math.round(TOTAL / seconds)} ops/s`
  )
  console.log(
    `  the relay took them in ${await appended}; final: first ${landed[0]} ms, every 1000th ${landed.filter((_, i) => i % 1000 === 999).join(' ')} ms`
  )
  console.log(
    `  indexers: ${work(before, after)}; bots' peer: engine runs ${peer.ledger.counters.envelopes - clientBefore}, cpu ${secs(cpu.user + cpu.system)} s`
  )
  for (const line of costs(before, after)) console.log(`  ${line}`)
  console.log(
    `memory: indexer rss ${after.map((s) => mib(s.rss)).join(' ')} (heap used ${after.map((s) => mib(s.heapUsed)).join(' ')}); bots' process rss ${mib(process.memoryUsage().rss)}`
  )
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
