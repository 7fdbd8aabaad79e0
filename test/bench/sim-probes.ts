/**
 * What test/bench/market-sim.ts measures besides the indexers: fresh processes reading or joining the market, a
 * node that follows it throughout, and the engine matching a bid against a full book. This file is also the
 * entry of those child processes (`follower` and `node` modes).
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { fork, spawn, ChildProcess } from 'child_process'
import { generateKeyPair } from '../../lib/identity'
import { parseBootstrap } from '../../lib/config'
import { seal, envelopeId, open } from '../../lib/envelope'
import { GiB } from '../../lib/resources'
import { isScitError } from '../../lib/errors'
import { MarketPeer } from '../../market/peer'
import { MemoryView } from '../../market/memory-view'
import { applyOpened, MARKET_TYPES } from '../../market/engine'
import { encodeBody } from '../../market/engine/ops'
import { memorySplit, type MemorySplit } from './store-memory'
import { cpuProfFlags, profileWindows } from './profile-window'
import { Actor, offerBody, bidBody, resources, T0, HOUR } from '../helpers/market'

const CLI = path.join(__dirname, '..', '..', 'lib', 'cli.js')
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'scit-bench-sim-'))

export interface FollowerReply {
  rss: number
  /** CPU seconds of the process (all threads), and of them its main thread's busy seconds. */
  cpu: number
  main: number
  /** View updates it has seen (signed upgrades of the view: each one stored). */
  updates: number
  share: number
  memory: MemorySplit
}

/** A node that follows the market from now on and answers `stats` (RSS, CPU seconds). */
export function follower(market: string, bootstrap: string): ChildProcess {
  // CPU_PROF=<dir>: a V8 CPU profile of it too, written when it ends (SIGTERM).
  return fork(__filename, ['follower', market, bootstrap], {
    stdio: 'inherit',
    execArgv: cpuProfFlags()
  })
}

/** A fresh follower process submits a node's offer: ms from its start until the offer is final, and its RSS. */
export function freshNode(
  market: string,
  bootstrap: string,
  time: number
): Promise<{ ms: number; rss: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const child = fork(__filename, ['node', market, bootstrap, String(time)], { stdio: 'inherit' })
    child.once('message', (m: { rss: number }) => {
      resolve({ ms: Date.now() - started, rss: m.rss })
      child.kill()
    })
    child.once('exit', (code) => reject(new Error(`the fresh node exited ${code}`)))
  })
}

/** `scit market info --json` in a fresh process: wall ms, the offers it counted, its peak RSS (bytes). */
export function marketInfo(
  market: string,
  bootstrap: string
): Promise<{ ms: number; offers: number; rss: number }> {
  return new Promise((resolve) => {
    const started = Date.now()
    const data = tmp()
    const args = ['market', 'info', '--json', '--market', market, '--bootstrap', bootstrap]
    const child = spawn(
      '/usr/bin/time',
      ['-f', '%M', process.execPath, CLI, ...args, '--data', data],
      {
        stdio: ['ignore', 'pipe', 'pipe']
      }
    )
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('close', (code) => {
      fs.rmSync(data, { recursive: true, force: true })
      const lines = err.trim().split('\n')
      const offers = code === 0 ? (JSON.parse(out) as { offers: number }).offers : -1
      resolve({ ms: Date.now() - started, offers, rss: Number(lines[lines.length - 1]) * 1024 })
    })
  })
}

/** µs the engine takes for one bid that fills, against a book of `nodes` offers (in memory, signatures checked before). */
export async function matchBid(nodes: number, bids = 500): Promise<number> {
  const view = new MemoryView()
  const founder = new Actor('sim-founder')
  const bot = new Actor('sim-bot')
  const run = async (value: Buffer, bootstrap = false): Promise<void> => {
    const o = open(value, { accept: MARKET_TYPES })
    if (!o.ok) throw new Error(o.message)
    await applyOpened(view, o.envelope, o.id, bootstrap)
  }
  let t = T0
  await run(
    founder.op(
      'governance',
      { action: 'genesis', faucets: [founder.publicKey], settlementWindow: HOUR },
      t
    ),
    true
  )
  await run(founder.op('deposit', { to: bot.publicKey, amount: 1e15 }, ++t))
  for (let i = 0; i < nodes; i++) {
    const prices = resources({ cpu: 100 + (i % 50), memory: 10, ssd: 1 })
    await run(new Actor(`sim-node-${i}`).op('offer', offerBody({ prices }), ++t))
  }
  const opened = Array.from({ length: bids }, () => {
    const body = bidBody({
      resources: resources({ cpu: 1000, memory: 2 * GiB }),
      maxPrice: 1_000_000,
      expiry: t + HOUR
    })
    const o = open(bot.op('bid', body, ++t), { accept: MARKET_TYPES })
    if (!o.ok) throw new Error(o.message)
    return o
  })
  const t0 = process.hrtime.bigint()
  for (const o of opened) await applyOpened(view, o.envelope, o.id, false)
  return Number(process.hrtime.bigint() - t0) / 1000 / bids
}

async function child(mode: string, market: string, bootstrap: string, time: number): Promise<void> {
  const data = tmp()
  // Ended by SIGTERM (or its parent gone): its store goes with it.
  process.on('exit', () => fs.rmSync(data, { recursive: true, force: true }))
  process.on('SIGTERM', () => process.exit(0))
  const peer = new MarketPeer({
    data,
    identity: generateKeyPair(),
    market: Buffer.from(market, 'hex'),
    bootstrap: parseBootstrap(bootstrap),
    follow: true,
    announce: false
  })
  await peer.ready()
  if (mode === 'node') {
    const kp = generateKeyPair()
    const body = encodeBody(
      'offer',
      offerBody({ resources: resources({ cpu: 4000, memory: 8 * GiB }) })
    )
    const e = seal(kp, { type: 'offer', seq: 1, timestamp: time, body })
    const final = peer.client.outcome(envelopeId(e), { final: true, timeout: 120_000 })
    // A relay that does not take it within 15 s leaves it kept and sent again, as for a real node.
    await peer.ledger.append([e]).catch((err: unknown) => {
      if (!isScitError(err, 'TIMEOUT')) throw err
    })
    const outcome = await final
    if (!outcome.accepted) throw new Error(`the fresh node's offer was refused: ${outcome.message}`)
    process.send?.({ rss: process.memoryUsage().rss })
    return
  }
  const profile = profileWindows(process.env.FOLLOWER_PROF, 'follower')
  let updates = 0
  peer.client.on('update', () => updates++)
  process.on('message', () => {
    const cpu = process.cpuUsage()
    const main = mainThreadCpu()
    profile()
    memorySplit(peer.store as NonNullable<typeof peer.store>, data).then(
      (memory) =>
        process.send?.({
          rss: memory.rss,
          cpu: (cpu.user + cpu.system) / 1e6,
          main,
          updates,
          memory
        }),
      (err: Error) => console.error(err)
    )
  })
  process.on('disconnect', () => process.exit(0))
}

/** CPU seconds of this process's main thread (Linux: its task's utime + stime), the rest being RocksDB's and
 * libuv's threads; an event loop's busy time would count the time a starved process waits for a core. */
function mainThreadCpu(): number {
  try {
    const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  } catch {
    return 0
  }
}

if (require.main === module) {
  const [mode, market, bootstrap, time] = process.argv.slice(2)
  child(mode, market, bootstrap, Number(time)).catch((err) => {
    console.error(err)
    process.exit(1)
  })
}
