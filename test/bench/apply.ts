/**
 * One peer applying the market alone (no network, no reorgs): CPU per op of the apply path (engine, view,
 * storage), for ops appended N at a time. Prints ops/s and CPU µs per op.
 *
 *   node dist/test/bench/apply.js [ops] [per append]
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { generateKeyPair, KeyPair } from '../../lib/identity'
import { seal } from '../../lib/envelope'
import { encodeBody } from '../../market/engine/ops'
import { MarketPeer } from '../../market/peer'
import { bidOp, offerOp } from '../helpers/ledger'
import type { BidBody, OfferBody } from '../../market/types'

const N = Number(process.argv[2] ?? 4000)
const PER = Number(process.argv[3] ?? 500)

async function main(): Promise<void> {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-bench-apply-'))
  const identity = generateKeyPair()
  const peer = new MarketPeer({
    data,
    identity,
    offline: true,
    genesis: { faucets: [identity.publicKey], settlementWindow: 3600_000 }
  })
  await peer.ready()
  try {
    const seqs = new Map<KeyPair, number>()
    const sealAs = (kp: KeyPair, type: 'offer' | 'bid', body: Buffer): Buffer => {
      const seq = (seqs.get(kp) ?? 0) + 1
      seqs.set(kp, seq)
      return seal(kp, { type, seq, timestamp: Date.now(), body })
    }
    const offer = encodeBody('offer', offerOp({ cpu: 64_000, memory: 1024 ** 4 }).body as OfferBody)
    await peer.ledger.append(
      Array.from({ length: 50 }, () => sealAs(generateKeyPair(), 'offer', offer))
    )
    const bots = Array.from({ length: 20 }, () => generateKeyPair())
    const kinds = (process.env.KIND ?? 'rest').split(',')
    const resting = encodeBody('bid', bidOp({ cpu: 1000, maxPrice: 0 }).body as BidBody)
    const trading = encodeBody('bid', bidOp({ cpu: 500, maxPrice: 10_000_000 }).body as BidBody)
    const all = Array.from({ length: N }, (_, i) =>
      sealAs(bots[i % bots.length], 'bid', kinds[i % kinds.length] === 'trade' ? trading : resting)
    )
    const before = peer.full.counters.envelopes
    const cpu0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < all.length; i += PER) await peer.ledger.append(all.slice(i, i + PER))
    const secs = Number(process.hrtime.bigint() - t0) / 1e9
    const cpu = process.cpuUsage(cpu0)
    const runs = peer.full.counters.envelopes - before
    console.log(
      `apply: ${N} bids (${kinds.join('+')}), ${PER} per append: ${Math.round(N / secs)} ops/s, ${Math.round((cpu.user + cpu.system) / N)} µs CPU per op (${runs} engine runs, view ${peer.ledger.view.core.length} blocks); rss ${Math.round(process.memoryUsage().rss / 1048576)} MiB, heap ${Math.round(process.memoryUsage().heapUsed / 1048576)} MiB`
    )
  } finally {
    await peer.close()
    fs.rmSync(data, { recursive: true, force: true })
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
