/**
 * Pure engine throughput with a MemoryView: a market of 50 nodes (or as
 * given), 20 bots
 * bidding, settling, claiming and closing, nodes re-pricing.
 *
 *   node dist/test/bench/engine.js [ops] [nodes]      (STAGES=1: and µs per op by stage, profiled)
 *
 * Prints four figures: the engine as the ledger runs it (Ed25519 verify
 * included), Ed25519 verify alone, and the engine on already-opened
 * envelopes, so one can see which of the two dominates.
 */
import b4a from 'b4a'
import { open, typeName } from '../../lib/envelope'
import { GiB } from '../../lib/resources'
import { apply, applyOpened, MARKET_TYPES } from '../../market/engine'
import { clearVerifyMemo } from '../../market/engine/open-memo'
import { MemoryView } from '../../market/memory-view'
import { pipeline, verifierStats } from '../../market/signature-pool'
import { stats } from '../../market/queries'
import { Actor, offerBody, bidBody, resources, prng, T0, HOUR } from '../helpers/market'
import { stages } from './engine-stages'
import type { Envelope } from '../../lib/envelope'

const N = Number(process.argv[2] ?? 30_000)
const NODES = Number(process.argv[3] ?? 50)

interface Op {
  value: Buffer
  bootstrap: boolean
}

/** Seal a realistic op stream, applying it once to learn trade ids (matching decides them). */
export async function generate(): Promise<Op[]> {
  const rand = prng(2026)
  const view = new MemoryView()
  const ops: Op[] = []
  let clock = T0
  const push = async (value: Buffer, bootstrap = false): Promise<string[]> => {
    ops.push({ value, bootstrap })
    const r = await apply(view, { value, bootstrap })
    return r.outcome.trades
  }
  const founder = new Actor('bench-founder')
  const faucet = new Actor('bench-faucet')
  const nodes = Array.from({ length: NODES }, (_, i) => new Actor(`bench-node-${i}`))
  const bots = Array.from({ length: 20 }, (_, i) => new Actor(`bench-bot-${i}`))
  await push(
    founder.op(
      'governance',
      { action: 'genesis', faucets: [faucet.publicKey], settlementWindow: 10 * 60_000 },
      clock
    ),
    true
  )
  for (const b of bots) await push(faucet.op('deposit', { to: b.publicKey, amount: 1e12 }, ++clock))
  const body = (): ReturnType<typeof offerBody> =>
    offerBody({
      resources: resources({ cpu: 64_000, memory: 256 * GiB, ssd: 4096 * GiB }),
      prices: resources({
        cpu: 80 + Math.floor(rand() * 40),
        memory: 5 + Math.floor(rand() * 5),
        ssd: 1
      }),
      country: ['CH', 'DE', 'FR', 'NL', 'BE'][Math.floor(rand() * 5)],
      attributes: rand() < 0.3 ? ['gpu', 'ssd'] : ['ssd']
    })
  for (const n of nodes) await push(n.op('offer', body(), ++clock))
  const settled: Array<{ bot: Actor; node: string; id: string }> = []
  while (ops.length < N) {
    clock += Math.ceil(100_000 / NODES) // demand stays below supply: a healthy book, few resting bids
    const r = rand()
    const bot = bots[Math.floor(rand() * bots.length)]
    if (r < 0.45) {
      const trades = await push(
        bot.op(
          'bid',
          bidBody({
            resources: resources({ cpu: 1000 * (1 + Math.floor(rand() * 2)), memory: 2 * GiB }),
            replicas: 1 + Math.floor(rand() * 2),
            countries: rand() < 0.3 ? ['CH'] : [],
            maxPrice: 500,
            duration: HOUR,
            expiry: clock + HOUR
          }),
          clock
        )
      )
      for (const id of trades) {
        clock += 1
        if (rand() < 0.9) {
          await push(
            bot.op(
              'settle',
              { trade: id, contract: b4a.alloc(32, 1), manifest: b4a.alloc(32, 2) },
              clock
            )
          )
          settled.push({ bot, node: '', id })
        }
      }
    } else if (r < 0.55 && settled.length > 0) {
      const t = settled[Math.floor(rand() * settled.length)]
      await push(t.bot.op('close', { trade: t.id, reason: 'done' }, clock))
    } else if (r < 0.6) {
      const n = nodes[Math.floor(rand() * nodes.length)]
      await push(n.op('offer-update', body(), clock))
    } else {
      await push(bot.op('transfer', { to: bots[0].publicKey, amount: 1 }, clock))
    }
  }
  return ops
}

async function main(): Promise<void> {
  const ops = await generate()

  // generate() applied every op once: forget those verifies, so the first figure is a first sight of each op.
  clearVerifyMemo()
  let t0 = process.hrtime.bigint()
  const full = new MemoryView()
  let accepted = 0
  const reasons = new Map<string, number>()
  for (const op of ops) {
    const r = (await apply(full, op)).outcome
    if (r.accepted) accepted++
    else reasons.set(r.reason ?? '', (reasons.get(r.reason ?? '') ?? 0) + 1)
  }
  const withVerify = ops.length / (Number(process.hrtime.bigint() - t0) / 1e9)

  // The same ops again on a fresh view, as Autobase re-applies them after a reorg: the verify memo is warm
  // (only its last entries, as it is bounded: a run longer than the memo sees mostly misses).
  t0 = process.hrtime.bigint()
  const again = new MemoryView()
  for (const op of ops) await apply(again, op)
  const reapplied = ops.length / (Number(process.hrtime.bigint() - t0) / 1e9)

  // As an indexer runs: blocks of 64 ops, their signatures checked on a worker ahead of the engine (market/signature-pool.ts).
  clearVerifyMemo()
  t0 = process.hrtime.bigint()
  const piped = new MemoryView()
  const blocks: Op[][] = []
  for (let i = 0; i < ops.length; i += 64) blocks.push(ops.slice(i, i + 64))
  const ready = pipeline(blocks.map((b) => b.map((op) => op.value)))
  for (let i = 0; i < blocks.length; i++) {
    await ready(i)
    for (const op of blocks[i]) await apply(piped, op)
  }
  const pipelined = ops.length / (Number(process.hrtime.bigint() - t0) / 1e9)

  t0 = process.hrtime.bigint()
  const opened: Array<{ env: Envelope; id: string; bootstrap: boolean }> = []
  for (const op of ops) {
    const o = open(op.value, { accept: MARKET_TYPES })
    if (!o.ok) throw new Error(o.message)
    opened.push({ env: o.envelope, id: o.id, bootstrap: op.bootstrap })
  }
  const verifyOnly = ops.length / (Number(process.hrtime.bigint() - t0) / 1e9)

  t0 = process.hrtime.bigint()
  const cpu0 = process.cpuUsage()
  const bare = new MemoryView()
  for (const o of opened) await applyOpened(bare, o.env, o.id, o.bootstrap)
  const withoutVerify = ops.length / (Number(process.hrtime.bigint() - t0) / 1e9)
  const cpu = process.cpuUsage(cpu0)
  const cpuPerOp = (cpu.user + cpu.system) / ops.length

  // Where the time goes, per op type (a third run, timed op by op).
  const per = new Map<string, { n: number; ns: number }>()
  const timed = new MemoryView()
  for (const o of opened) {
    const s = process.hrtime.bigint()
    await applyOpened(timed, o.env, o.id, o.bootstrap)
    const e = per.get(typeName(o.env.type) ?? '?') ?? { n: 0, ns: 0 }
    e.n++
    e.ns += Number(process.hrtime.bigint() - s)
    per.set(typeName(o.env.type) ?? '?', e)
  }

  if (
    !b4a.equals(full.dump(), bare.dump()) ||
    !b4a.equals(full.dump(), again.dump()) ||
    !b4a.equals(full.dump(), piped.dump())
  )
    throw new Error('the runs disagree')
  const st = await stats(full)
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')
  console.log(
    `engine bench: ${ops.length} ops (${accepted} accepted; refused: ${JSON.stringify(Object.fromEntries(reasons))}), ${NODES} nodes, 20 bots, view of ${full.size} keys, ${st.openBids} bids resting at the end, trades ${JSON.stringify(st.trades)}`
  )
  console.log(`  engine, verify included (what the ledger runs): ${fmt(withVerify)} ops/s`)
  console.log(`  engine re-applying the same ops (verify memo):  ${fmt(reapplied)} ops/s`)
  console.log(`  Ed25519 open() alone:                           ${fmt(verifyOnly)} ops/s`)
  console.log(
    `  engine on opened envelopes (no verify):         ${fmt(withoutVerify)} ops/s (${cpuPerOp.toFixed(1)} µs CPU per op)`
  )
  console.log(
    `  engine, verify on a worker ahead (indexer):     ${fmt(pipelined)} ops/s (${((pipelined / withoutVerify) * 100).toFixed(0)} % of no verify; ${verifierStats.checked} checked on workers)`
  )
  console.log(
    `  per op type (no verify): ${[...per].map(([k, v]) => `${k} ${v.n} × ${(v.ns / v.n / 1000).toFixed(1)} µs`).join(', ')}`
  )
  if (process.env.STAGES === '1') {
    const profiled = async (): Promise<void> => {
      const view = new MemoryView()
      for (const o of opened) await applyOpened(view, o.env, o.id, o.bootstrap)
    }
    console.log(`  per stage (no verify): ${await stages(ops.length, profiled)}`)
  }
}

if (require.main === module)
  main().catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
