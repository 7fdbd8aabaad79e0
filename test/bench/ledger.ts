/**
 * Market ledger benchmarks on a local testnet (127.0.0.1), 3 indexers each
 * in its own process (as on their own machines; test/bench/ledger-indexer.ts)
 * and one client peer in this one, over real Hyperswarm connections:
 *
 *   1. bid → trade final latency, p50 and p99: 50 offers, then 1,000 bids
 *      from 4 bot identities, BATCH per append and GAP ms after each append
 *      returns (so the market sets the pace: the rate printed is what it
 *      took), each timed from append to final (all ops go through the
 *      client peer: see below);
 *   2. ledger ops/s end to end: TOTAL bids appended at once, timed until
 *      every one is final (indexed by a quorum) on the client's peer;
 *   3. RSS and CPU time of each indexer, and of the client.
 *
 * The client is not a writer: it hands its ops to an indexer, which appends
 * them (market/relay.ts). RELAY=0 makes it append optimistic blocks instead;
 * BIG=0 turns Autobase's big batches off on every peer (market/ledger.ts).
 *
 *   npm run bench -- ledger        (ACK_INTERVAL, BATCH, GAP, BIDS, TOTAL, RELAY, BIG to vary it)
 */
import path from 'path'
import fs from 'fs'
import os from 'os'
import { fork, ChildProcess } from 'child_process'
import { startTestnet, Testnet } from '../../lib/testnet'
import { generateKeyPair, KeyPair } from '../../lib/identity'
import { seal, envelopeId } from '../../lib/envelope'
import { encodeBody } from '../../market/engine/ops'
import { MarketPeer } from '../../market/peer'
import { offerOp, bidOp } from '../helpers/ledger'
import type { OfferBody, BidBody, Outcome } from '../../market/types'
import type { Command, Reply } from './ledger-indexer'
import safetyCatch from 'safety-catch'

const ACK_INTERVAL = Number(process.env.ACK_INTERVAL ?? 20)

/** An indexer process, driven over IPC. */
class Indexer {
  readonly ready: Promise<Extract<Reply, { kind: 'ready' }>>
  private waiting: Array<(r: Reply) => void> = []

  constructor(readonly child: ChildProcess) {
    this.ready = this.next('ready') as Promise<Extract<Reply, { kind: 'ready' }>>
    child.on('message', (r: Reply) => {
      const waiting = this.waiting
      this.waiting = []
      for (const w of waiting) w(r)
    })
  }

  static start(net: Testnet, market: string | null): Indexer {
    const boot = net.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
    return new Indexer(
      fork(
        path.join(__dirname, 'ledger-indexer.js'),
        [boot, ...(market !== null ? [market] : [])],
        { env: { ...process.env, ACK_INTERVAL: String(ACK_INTERVAL) } }
      )
    )
  }

  private next(kind: Reply['kind']): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const take = (r: Reply): void => {
        if (r.kind === 'error') reject(new Error(r.message))
        else if (r.kind === kind) resolve(r)
        else this.waiting.push(take)
      }
      this.waiting.push(take)
    })
  }

  async run(c: Command, reply: Reply['kind'] = 'done'): Promise<Reply> {
    const r = this.next(reply)
    this.child.send(c)
    return r
  }

  async stats(): Promise<Extract<Reply, { kind: 'stats' }>> {
    return (await this.run({ cmd: 'stats' }, 'stats')) as Extract<Reply, { kind: 'stats' }>
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    this.child.send({ cmd: 'close' })
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MiB`

async function main(): Promise<void> {
  const net = await startTestnet(3)
  const indexers: Indexer[] = []
  let client: MarketPeer | null = null
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-bench-ledger-'))
  try {
    const a = Indexer.start(net, null)
    indexers.push(a)
    const { market } = await a.ready
    indexers.push(Indexer.start(net, market), Indexer.start(net, market))
    const [b, c] = [indexers[1], indexers[2]]
    // A joiner is an indexer once a strict majority of the current indexers voted for it.
    for (const [voters, joiner] of [
      [[a], b],
      [[a, b], c]
    ] as Array<[Indexer[], Indexer]>) {
      const { identity, writer } = await joiner.ready
      for (const v of voters) await v.run({ cmd: 'vote', identity, writer })
      await joiner.run({ cmd: 'await-indexer' })
    }
    console.log(
      `3 indexers up, one process each (ack interval ${ACK_INTERVAL} ms, big batches ${process.env.BIG === '0' ? 'off' : 'on'}); the client's ops go ${process.env.RELAY === '0' ? 'out in its own optimistic blocks' : 'through an indexer (relay)'}`
    )

    // One client peer carries the 50 nodes' offers and the 4 bots' bids: each op is signed by its own author's key
    // (an envelope's author need not be its writer), and the process runs 4 peers rather than 58.
    client = new MarketPeer({
      data,
      identity: generateKeyPair(),
      dht: net.createNode(),
      market: Buffer.from(market, 'hex'),
      ackInterval: ACK_INTERVAL,
      bigBatches: process.env.BIG !== '0',
      relay: process.env.RELAY !== '0'
    })
    await client.ready()
    const peer = client
    const authors = new Map<KeyPair, number>()
    const sealAs = (kp: KeyPair, type: 'offer' | 'bid', body: Buffer): Buffer => {
      const seq = (authors.get(kp) ?? 0) + 1
      authors.set(kp, seq)
      return seal(kp, { type, seq, timestamp: Date.now(), body })
    }
    const final = (e: Buffer): Promise<Outcome> =>
      peer.client.outcome(envelopeId(e), { final: true, timeout: 300_000 })

    const offer = encodeBody('offer', offerOp({ cpu: 64_000, memory: 1024 ** 4 }).body as OfferBody)
    const offers = Array.from({ length: 50 }, () => sealAs(generateKeyPair(), 'offer', offer))
    await peer.ledger.append(offers)
    await Promise.all(offers.map(final))
    console.log('50 offers final')

    // 1. Latency: 1,000 bids from 4 bot identities, BATCH per append, one append every GAP ms.
    const bots = Array.from({ length: 4 }, () => generateKeyPair())
    const BATCH = Number(process.env.BATCH ?? 10)
    const GAP = Number(process.env.GAP ?? 50)
    const bid = encodeBody('bid', bidOp({ cpu: 500, maxPrice: 10_000_000 }).body as BidBody)
    const latencies: number[] = []
    const appends: number[] = []
    let matched = 0
    const waits: Array<Promise<void>> = []
    const BIDS = Number(process.env.BIDS ?? 1000)
    const start = Date.now()
    for (let i = 0; i < BIDS; i += BATCH) {
      const sent = Date.now()
      const batch = Array.from({ length: BATCH }, (_, j) =>
        sealAs(bots[(i + j) % bots.length], 'bid', bid)
      )
      await peer.ledger.append(batch)
      appends.push(Date.now() - sent)
      for (const e of batch) {
        waits.push(
          final(e).then((o) => {
            latencies.push(Date.now() - sent)
            if (o.trades.length > 0) matched++
          })
        )
      }
      await new Promise((resolve) => setTimeout(resolve, GAP))
    }
    // The next append waits for the last one (the relay answers once it appended): the rate is what the market took.
    const rate = Math.round(BIDS / ((Date.now() - start) / 1000))
    await Promise.all(waits)
    latencies.sort((x, y) => x - y)
    if (process.env.DECILES !== undefined)
      console.log(
        '  deciles',
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9].map((p) => percentile(latencies, p)).join(' ')
      )
    appends.sort((x, y) => x - y)
    console.log(
      `bid → trade final: ${latencies.length} bids (${BATCH} per append, ${GAP} ms after each: ${rate} bids/s), ${matched} traded; p50 ${percentile(latencies, 0.5)} ms, p99 ${percentile(latencies, 0.99)} ms, max ${latencies[latencies.length - 1]} ms (of which the append itself: p50 ${percentile(appends, 0.5)} ms, p99 ${percentile(appends, 0.99)} ms)`
    )

    // 2. Throughput: TOTAL bids at once, 500 per block; they rest (max price 0). Timed until all are final.
    const TOTAL = Number(process.env.TOTAL ?? 4000)
    const resting = encodeBody('bid', bidOp({ cpu: 1000, maxPrice: 0 }).body as BidBody)
    const all = Array.from({ length: TOTAL }, (_, i) =>
      sealAs(bots[i % bots.length], 'bid', resting)
    )
    const before = await Promise.all(indexers.map((i) => i.stats()))
    const clientBefore = peer.ledger.counters.envelopes
    const t0 = Date.now()
    const cpu0 = process.cpuUsage()
    const landed: number[] = []
    const appended = peer.ledger.append(all).then(() => Date.now() - t0)
    await Promise.all(
      all.map((e) =>
        final(e).then(() => {
          landed.push(Date.now() - t0)
        })
      )
    )
    const secs = (Date.now() - t0) / 1000
    const cpuClient = process.cpuUsage(cpu0)
    console.log(
      `  appended in ${await appended} ms; final: first ${landed[0]} ms, every 1000th ${landed.filter((_, i) => i % 1000 === 999).join(' ')} ms; client cpu ${((cpuClient.user + cpuClient.system) / 1e6).toFixed(1)} s`
    )
    console.log(
      `ledger: ${TOTAL} ops final in ${secs.toFixed(2)} s = ${Math.round(TOTAL / secs)} ops/s`
    )
    const after = await Promise.all(indexers.map((i) => i.stats()))
    const runs = after.map((s, i) => s.envelopes - before[i].envelopes)
    const cpu = after.map((s, i) => (s.cpu - before[i].cpu).toFixed(1))
    console.log(
      `  engine runs (re-runs after reorgs included): indexers ${runs.join(' ')}, client ${peer.ledger.counters.envelopes - clientBefore}; indexer cpu ${cpu.join(' ')} s`
    )
    console.log(
      `  apply calls: indexers ${after.map((s, i) => s.applies - before[i].applies).join(' ')}; offer books rebuilt from the view (not undone by the journal): ${after.map((s, i) => s.bookLoads - before[i].bookLoads).join(' ')}`
    )

    const mem = process.memoryUsage()
    console.log(
      `memory: indexer rss ${after.map((s) => mib(s.rss)).join(' ')} (heap used ${after.map((s) => mib(s.heapUsed)).join(' ')}); client process rss ${mib(mem.rss)}`
    )
  } finally {
    if (client !== null) await client.close().catch((err) => console.error('close failed:', err))
    await Promise.all(indexers.map((i) => i.close()))
    await net.destroy().catch(safetyCatch)
    fs.rmSync(data, { recursive: true, force: true })
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
