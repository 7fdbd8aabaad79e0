/**
 * One indexer of the ledger benchmark, in its own process (as on its own
 * machine): test/bench/indexers.ts forks these and drives them over IPC. The
 * first creates the market; the others join it and get voted in.
 *
 *   argv: <bootstrap host:port,…> [market key hex]
 *   GENESIS=<json>: the genesis of a market this one creates ({ settlementWindow, offerTtl, faucet: hex key })
 *   TRACE=<dir>: sample the ledger every 10 ms (view, final and signed lengths, apply calls, engine runs,
 *   event loop use) and write them to <dir>/trace-<pid>.json on close.
 *   The ledger keeps each op's way to final and its stages' costs (market/timeline.ts): `stats` and `timeline`;
 *   TIMELINE=0 turns that off. CACHE_NODES=<n>: the size of its store's Hyperbee node cache; BLOCK_CACHE=1|0:
 *   RocksDB's 32 MiB block cache on or off (lib/store.ts STORE_LIMITS otherwise).
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { performance } from 'perf_hooks'
import v8 from 'v8'
import { generateKeyPair } from '../../lib/identity'
import { parseBootstrap } from '../../lib/config'
import { MarketPeer } from '../../market/peer'
import type { GenesisOptions } from '../../market/peer'
import { untilIndexer } from '../../market/indexers'
import { openStore } from '../../lib/store'
import { boundHeapGrowth, HEAP_GROWING_PERCENT } from '../../lib/runtime'
import { memorySplit, type MemorySplit } from './store-memory'
import { profileWindows } from './profile-window'

/** `id` (set by test/bench/indexers.ts): echoed in the reply, so replies to commands in flight together are told apart. */
export type Command = { id?: number } & (
  | { cmd: 'vote'; identity: string; writer: string }
  | { cmd: 'await-indexer' }
  | { cmd: 'stats' }
  | { cmd: 'timeline' }
  | { cmd: 'append'; envelopes: string[] }
  | { cmd: 'heap-snapshot'; dir: string }
  | { cmd: 'profile' }
  | { cmd: 'close' }
)

export type Reply = { id?: number } & (
  | { kind: 'ready'; market: string; identity: string; writer: string; view: string }
  | { kind: 'done'; cmd: string }
  | {
      kind: 'stats'
      rss: number
      heapUsed: number
      envelopes: number
      applies: number
      bookLoads: number
      cpu: number
      /** The view's length, its final (indexed) and its signed length. */
      view: number
      final: number
      signed: number
      /** Per stage: count and µs (market/timeline.ts). */
      costs: Record<string, { n: number; us: number }>
      memory: MemorySplit
    }
  | { kind: 'timeline'; ops: Array<[string, number[]]> }
  | { kind: 'error'; message: string }
)

const ACK_INTERVAL = Number(process.env.ACK_INTERVAL ?? 20)

async function main(): Promise<void> {
  // As `scit market serve` does; HEAP_GROWING_PERCENT=0 leaves V8's own factor.
  boundHeapGrowth(Number(process.env.HEAP_GROWING_PERCENT ?? HEAP_GROWING_PERCENT))
  const bootstrap = parseBootstrap(process.argv[2])
  const market = process.argv[3] ? Buffer.from(process.argv[3], 'hex') : null
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-bench-indexer-'))
  // However it ends (closed, failed to open, its parent gone), its store goes with it.
  process.on('exit', () => fs.rmSync(data, { recursive: true, force: true }))
  const identity = generateKeyPair()
  // CACHE_NODES=<n>: the store's Hyperbee node cache (lib/store.ts STORE_LIMITS otherwise).
  const limits = {
    ...(process.env.CACHE_NODES ? { cacheNodes: Number(process.env.CACHE_NODES) } : {}),
    ...(process.env.BLOCK_CACHE ? { blockCache: process.env.BLOCK_CACHE === '1' } : {})
  }
  const store =
    Object.keys(limits).length > 0 ? openStore(path.join(data, 'market'), limits) : undefined
  const peer = new MarketPeer({
    data,
    store,
    identity,
    bootstrap,
    ackInterval: ACK_INTERVAL,
    bigBatches: process.env.BIG !== '0',
    // TIMELINE=0: none (it keeps every op's stage times: a long simulation's memory would be the timeline's).
    timeline: process.env.TIMELINE !== '0',
    ...(market !== null ? { market } : { genesis: genesis(identity.publicKey) })
  })
  await peer.ready()
  const trace = process.env.TRACE ? sample(peer) : null
  // INDEXER_PROF=<dir>: each 'profile' command ends the last window's CPU profile and begins the next.
  const profile = profileWindows(process.env.INDEXER_PROF, 'indexer')
  const send = (r: Reply): void => {
    process.send?.(r)
  }
  send({
    kind: 'ready',
    market: peer.key.toString('hex'),
    identity: identity.publicKey.toString('hex'),
    writer: peer.full.writerKey.toString('hex'),
    view: peer.full.view.core.key.toString('hex')
  })

  // The driver gone (crashed or killed): do not linger.
  process.on('disconnect', () => process.exit(1))
  process.on('message', (m: Command) => {
    run(m).then(
      () => send({ kind: 'done', cmd: m.cmd, id: m.id }),
      (err: Error) => send({ kind: 'error', message: err.message, id: m.id })
    )
  })

  async function run(m: Command): Promise<void> {
    if (m.cmd === 'vote') {
      const body = {
        action: 'add-indexer',
        identity: Buffer.from(m.identity, 'hex'),
        writer: Buffer.from(m.writer, 'hex')
      }
      const [outcome] = await peer.client.submitAndWait([{ type: 'governance', body }], {
        timeout: 60_000
      })
      if (!outcome.accepted) throw new Error(`vote refused: ${outcome.message ?? ''}`)
    } else if (m.cmd === 'await-indexer') {
      await untilIndexer(peer)
    } else if (m.cmd === 'stats') {
      const mem = process.memoryUsage()
      const cpu = process.cpuUsage()
      send({
        id: m.id,
        kind: 'stats',
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        envelopes: peer.ledger.counters.envelopes,
        applies: peer.ledger.counters.applies,
        bookLoads: peer.full.counters.bookLoads,
        cpu: (cpu.user + cpu.system) / 1e6,
        view: peer.full.view.core.length,
        final: peer.full.finalVersion,
        signed: peer.full.view.core.signedLength,
        costs: structuredClone(peer.full.timeline?.costs ?? {}),
        memory: await memorySplit(peer.store as NonNullable<typeof peer.store>, data)
      })
    } else if (m.cmd === 'timeline') {
      send({ id: m.id, kind: 'timeline', ops: [...(peer.full.timeline?.ops ?? [])] })
    } else if (m.cmd === 'append') {
      await peer.ledger.append(m.envelopes.map((e) => Buffer.from(e, 'base64')))
    } else if (m.cmd === 'profile') {
      profile()
    } else if (m.cmd === 'heap-snapshot') {
      v8.writeHeapSnapshot(
        path.join(m.dir, `indexer-${process.pid}-${peer.full.view.core.length}.heapsnapshot`)
      )
    } else if (m.cmd === 'close') {
      if (trace !== null) trace()
      await peer.close()
      await store?.close()
      process.exit(0)
    }
  }
}

function genesis(self: Buffer): GenesisOptions {
  const g = JSON.parse(process.env.GENESIS ?? '{}') as {
    settlementWindow?: number
    offerTtl?: number
    faucet?: string
  }
  return {
    faucets: [g.faucet !== undefined ? Buffer.from(g.faucet, 'hex') : self],
    settlementWindow: g.settlementWindow ?? 3600_000,
    offerTtl: g.offerTtl ?? 0
  }
}

/** Starts sampling; the returned function stops and writes the samples. */
function sample(peer: MarketPeer): () => void {
  const rows: number[][] = []
  let elu = performance.eventLoopUtilization()
  const timer = setInterval(() => {
    const l = peer.full
    const now = performance.eventLoopUtilization()
    const busy = performance.eventLoopUtilization(now, elu).utilization
    elu = now
    const core = l.view.core
    rows.push([
      Date.now(),
      core.length,
      l.finalVersion,
      core.signedLength,
      l.base.local.length,
      l.counters.applies,
      l.counters.envelopes,
      Math.round(busy * 100)
    ])
  }, 10)
  return () => {
    clearInterval(timer)
    const file = path.join(process.env.TRACE as string, `trace-${process.pid}.json`)
    fs.writeFileSync(
      file,
      JSON.stringify({ columns: 'time view final signed local applies envelopes busy%', rows })
    )
  }
}

main().catch((err) => {
  process.send?.({ kind: 'error', message: (err as Error).message })
  process.exit(1)
})
