/**
 * A simulated market (`npm run bench -- market-sim`): NODES (10,000) nodes and BOTS (1,000) bots on 3 indexers,
 * each in its own process, a year of engine time compressed into the last of SIM_STEPS ops (default
 * 10,000,100,000,1,000,000; test/bench/sim-population.ts makes the ops). At each step it prints a row:
 *
 *   - a fresh `scit market info --json` process: wall time, correct, RSS;
 *   - a fresh node (a follower process with an empty store): time until its offer is final, its RSS;
 *   - the engine matching one bid against NODES offers (in memory, µs per bid);
 *   - the indexers at the population's real-time rate for 20 s: CPU share each, and the ops final meanwhile;
 *   - RSS of each indexer, and of a node that has followed the market from the start (and its CPU share).
 *
 *   SIM_STEPS=10000,100000 npm run bench -- market-sim     (NODES, BOTS, SIM_STEPS to vary it)
 */
import type { ChildProcess } from 'child_process'
import { startTestnet } from '../../lib/testnet'
import { generateKeyPair } from '../../lib/identity'
import { Indexer, startIndexers, closeIndexers } from './indexers'
import { Population, realRates, HOUR, DAY } from './sim-population'
import { follower, freshNode, marketInfo, matchBid, type FollowerReply } from './sim-probes'
import { formatSplit } from './store-memory'
import { endChild } from '../helpers/child'
import safetyCatch from 'safety-catch'

const NODES = Number(process.env.NODES ?? 10_000)
const BOTS = Number(process.env.BOTS ?? 1000)
const STEPS = (process.env.SIM_STEPS ?? '10000,100000,1000000').split(',').map(Number)
const CHUNK = 2048
/** The real-time window at each step (ms). */
const WINDOW = 20_000
const mib = (n: number): string => `${Math.round(n / 2 ** 20)} MiB`

async function main(): Promise<void> {
  const year = 365 * DAY
  const last = STEPS[STEPS.length - 1]
  const faucet = generateKeyPair()
  const rates = realRates(NODES, BOTS)
  const realRate = Object.values(rates).reduce((a, b) => a + b, 0)
  const step = Math.floor(year / last)
  // Each real-time window adds ops past the year, `step` engine ms apiece: begin early enough that no op is
  // stamped ahead of the indexers' clocks (a relay refuses ops over 30 s ahead: a fresh node's offer was).
  const extra = Math.ceil(realRate * (WINDOW / 1000) * 1.5) * STEPS.length * step
  const pop = new Population(NODES, BOTS, Date.now() - year - extra, step, faucet)
  console.log(
    `${NODES} nodes, ${BOTS} bots; in real time they make ${realRate.toFixed(1)} ops/s: ${Object.entries(
      rates
    )
      .map(([k, v]) => `${k} ${v.toFixed(2)}/s`)
      .join(', ')}`
  )
  console.log(
    `one year in ${last.toLocaleString('en')} ops: ${(pop.step / 1000).toFixed(1)} s of engine time per op, offer TTL ${(pop.offerTtl / DAY).toFixed(1)} days, leases of 6 h, settlement window 1 h`
  )
  const net = await startTestnet(3)
  const bootstrap = net.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  const indexers: Indexer[] = []
  let watcher: ChildProcess | null = null
  let ticker: NodeJS.Timeout | null = null
  try {
    const genesis = {
      settlementWindow: HOUR,
      offerTtl: pop.offerTtl,
      faucet: faucet.publicKey.toString('hex')
    }
    const market = await startIndexers(net, 3, indexers, {
      GENESIS: JSON.stringify(genesis),
      TIMELINE: '0'
    })
    const writers = await Promise.all(indexers.map(async (i) => (await i.ready).writer))
    const relay = indexers[writers.indexOf([...writers].sort().reverse()[0])]
    const feed = new Feed(relay)
    await feed.send(pop.opening())
    watcher = follower(market, bootstrap)
    console.log(
      '\n| ops | `market info` (fresh process) | fresh node: offer final | its RSS | engine: a bid against ' +
        `${NODES.toLocaleString('en')} offers | indexers at ${realRate.toFixed(1)} ops/s for 20 s: CPU each | then all final and signed after | indexer RSS | following node: RSS, CPU, view updates per op | append rate |`
    )
    console.log('|---|---|---|---|---|---|---|---|---|---|')
    let sent = 0
    const holders: string[] = []
    let freshNodes = 0
    // Said at once on stderr too (a long run's first steps), and all together after the table.
    const hold = (...lines: string[]): void => {
      holders.push(...lines)
      for (const l of lines) console.error(`  ${l}`)
    }
    // Also while a send waits (a long history): where each indexer is.
    ticker = setInterval(() => {
      progress(indexers, `${sent.toLocaleString('en')} ops sent`).catch(safetyCatch)
    }, 10_000)
    for (const target of STEPS) {
      const started = Date.now()
      const from = sent
      const fedFrom = target === STEPS[0] ? 0 : feed.count
      const cpuFrom = await Promise.all(indexers.map(async (i) => (await i.stats()).cpu))
      while (sent < target) {
        await feed.send(pop.next(Math.min(CHUNK, target - sent)))
        sent = Math.min(target, sent + CHUNK)
        await progress(indexers, `${sent.toLocaleString('en')} ops sent`)
      }
      await feed.settled()
      const rate = (sent - from) / ((Date.now() - started) / 1000)
      const cpuTo = await Promise.all(indexers.map(async (i) => (await i.stats()).cpu))
      hold(
        `${target.toLocaleString('en')} ops: building the history cost each indexer ${cpuTo.map((c, i) => `${(((c - cpuFrom[i]) * 1000) / (feed.count - fedFrom)).toFixed(2)}`).join(' ')} ms CPU per op (${(feed.count - fedFrom).toLocaleString('en')} ops, the opening's in the first step)`
      )
      await caughtUp(indexers)
      const info = await marketInfo(market, bootstrap)
      // Each step's fresh node adds its offer: the next step's `market info` counts it.
      freshNodes++
      const node = await freshNode(market, bootstrap, pop.time)
      const match = await matchBid(NODES)
      const window = await realTime(pop, feed, indexers, watcher, realRate)
      const stats = await Promise.all(indexers.map((i) => i.stats()))
      // HEAP_SNAPSHOT=<dir>: one indexer's heap at each step, to see what holds it.
      if (process.env.HEAP_SNAPSHOT)
        await indexers[0].run({ cmd: 'heap-snapshot', dir: process.env.HEAP_SNAPSHOT })
      hold(
        ...stats.map(
          (s, i) => `${target.toLocaleString('en')} ops, indexer ${i}: ${formatSplit(s.memory)}`
        ),
        `${target.toLocaleString('en')} ops, following node: ${formatSplit(window.follower.memory)}`
      )
      console.log(
        `| ${target.toLocaleString('en')} | ${(info.ms / 1000).toFixed(1)} s${info.offers === NODES + freshNodes - 1 ? '' : ` (WRONG: ${info.offers} offers)`}, ${mib(info.rss)} | ${(node.ms / 1000).toFixed(1)} s | ${mib(node.rss)} | ${match.toFixed(0)} µs | ${window.cpu.map((c) => `${(c * 100).toFixed(0)} %`).join(' ')} | ${window.lag} ms | ${stats.map((s) => mib(s.rss)).join(' ')} | ${mib(window.follower.rss)}, ${(window.follower.share * 100).toFixed(1)} % (main thread ${(window.follower.mainShare * 100).toFixed(1)} %), ${window.follower.updatesPerOp.toFixed(2)} view updates per op | ${rate.toFixed(0)} ops/s |`
      )
    }
    console.log(`\nwho holds the memory (MiB):\n${holders.join('\n')}`)
    console.log(
      `\nops by type: ${Object.entries(pop.counts)
        .map(([k, v]) => `${k} ${v.toLocaleString('en')}`)
        .join(', ')}`
    )
  } finally {
    if (ticker !== null) clearInterval(ticker)
    if (watcher !== null) await endChild(watcher, 'SIGTERM', 10_000)
    await closeIndexers(indexers)
    await net.destroy().catch(safetyCatch)
  }
}

/** Appends through the relay indexer, at most two chunks in flight. */
class Feed {
  private inflight: Array<Promise<unknown>> = []
  /** Ops sent so far, the opening included. */
  count = 0
  constructor(private readonly relay: Indexer) {}

  async send(envelopes: Buffer[]): Promise<void> {
    this.count += envelopes.length
    if (this.inflight.length >= 2) await this.inflight.shift()
    const b64 = envelopes.map((e) => e.toString('base64'))
    this.inflight.push(this.relay.run({ cmd: 'append', envelopes: b64 }))
  }

  async settled(): Promise<void> {
    await Promise.all(this.inflight.splice(0))
  }
}

/** Until every indexer's final and signed lengths reach what the longest view held when asked. */
async function caughtUp(indexers: Indexer[]): Promise<void> {
  const target = Math.max(...(await Promise.all(indexers.map((i) => i.stats()))).map((s) => s.view))
  while (true) {
    const s = await Promise.all(indexers.map((i) => i.stats()))
    if (s.every((x) => x.final >= target && x.signed >= target)) return
    await progress(indexers, `waiting for view length ${target} final and signed`)
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

let told = Date.now()
/** Every 10 s on stderr: what each indexer holds and has done, so a slow step shows where it is. */
async function progress(indexers: Indexer[], what: string): Promise<void> {
  if (Date.now() - told < 10_000) return
  told = Date.now()
  const s = await Promise.all(indexers.map((i) => i.stats()))
  const each = s.map(
    (x) =>
      `view ${x.view} final ${x.final} signed ${x.signed}, ${x.envelopes} engine runs in ${x.applies} apply calls, ${x.bookLoads} book loads, cpu ${x.cpu.toFixed(0)} s`
  )
  console.error(`  ${what}; ${each.join(' | ')}`)
}

/** The population's real-time rate for 20 s: CPU share of each indexer and of the following node. */
async function realTime(
  pop: Population,
  feed: Feed,
  indexers: Indexer[],
  watcher: ChildProcess,
  rate: number
): Promise<{
  cpu: number[]
  lag: number
  follower: FollowerReply & { mainShare: number; updatesPerOp: number }
}> {
  const ask = (): Promise<FollowerReply> =>
    new Promise((resolve) => {
      watcher.once('message', resolve)
      watcher.send({ cmd: 'stats' })
    })
  const before = await Promise.all(indexers.map((i) => i.stats()))
  const f0 = await ask()
  // INDEXER_PROF=<dir>: the indexers' CPU profiles of this window (FOLLOWER_PROF: the following node's).
  if (process.env.INDEXER_PROF) await Promise.all(indexers.map((i) => i.run({ cmd: 'profile' })))
  const t0 = Date.now()
  let sent = 0
  while (Date.now() - t0 < WINDOW) {
    const due = Math.floor(((Date.now() - t0) * rate) / 1000)
    if (due > sent) {
      // Engine time keeps its pace per op, whatever the wall clock does.
      await feed.send(pop.next(due - sent))
      sent = due
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await feed.settled()
  const wall = (Date.now() - t0) / 1000
  const after = await Promise.all(indexers.map((i) => i.stats()))
  const f1 = await ask()
  if (process.env.INDEXER_PROF) await Promise.all(indexers.map((i) => i.run({ cmd: 'profile' })))
  const ended = Date.now()
  await caughtUp(indexers)
  return {
    cpu: after.map((s, i) => (s.cpu - before[i].cpu) / wall),
    lag: Date.now() - ended,
    follower: {
      ...f1,
      share: (f1.cpu - f0.cpu) / wall,
      mainShare: (f1.main - f0.main) / wall,
      updatesPerOp: (f1.updates - f0.updates) / Math.max(1, sent)
    }
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
