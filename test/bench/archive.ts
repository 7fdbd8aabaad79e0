/**
 * Archive figures (`npm run bench -- archive`), printed, never asserted:
 *   1. the erasure code: encode and decode MiB/s of data on one core, ours and,
 *      when installed (npm i --no-save), @ronomon/reed-solomon and
 *      @digitaldefiance/reed-solomon-erasure.wasm side by side;
 *   2. the 1 PB plan over 2,000 offers (the planner alone), and a holder's
 *      storage alone (archive-store.ts);
 *   3. put and get over ARCHIVE_NODES in-process nodes (default 31: 20+10 and a spare) of
 *      ARCHIVE_MIB (default 1024), against a raw HyperDHT stream in the same run;
 *   4. a repair: a holder stopped, until its replacement rebuilt and proved
 *      its shard, and the block bytes the bot moved meanwhile;
 *   5. this process's peak RSS during the put and the get (nodes included), and its
 *      rise over the RSS before the put (what the put and the get added).
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import b4a from 'b4a'
import sodium from 'sodium-universal'
import { startTestnet } from '../../lib/testnet'
import { generateKeyPair } from '../../lib/identity'
import { MiB } from '../../lib/resources'
import { ErasureCode } from '../../lib/archive/erasure'
import { loadTemplate } from '../../bot/template'
import { instantiate } from '../../bot/manifest'
import { planInstance } from '../../bot/archive-plan'
import { put } from '../../bot/archive-put'
import { get } from '../../bot/archive-get'
import { EXAMPLE, hddOffer } from '../helpers/archive'
import { healed, nodeState } from '../helpers/deploy'
import { shim, ms } from './shim'
import { CpuProfile, perMiB } from './profile'
import { wireBytes } from './wire'
import { benchWorld, codeFor } from './archive-world'
import { streamBench } from './archive-stream'
import { holderStore } from './archive-store'

const NODES = Number(process.env.ARCHIVE_NODES ?? 31)
const SIZE = Number(process.env.ARCHIVE_MIB ?? 1024) * MiB
/** ARCHIVE_PROFILE=1: a CPU profile of the raw stream, the put and the get, in µs per MiB per stage. */
const PROFILE = process.env.ARCHIVE_PROFILE === '1'
const [K, M] = codeFor(NODES)
/** ARCHIVE_STREAM_MIB=256,2048: instead of 3-5, the RSS of large files streamed through put and get (archive-stream.ts). */
const STREAM = (process.env.ARCHIVE_STREAM_MIB ?? '')
  .split(',')
  .filter((x) => x !== '')
  .map((x) => Number(x) * MiB)

function rate(bytes: number, millis: number): string {
  return `${(bytes / MiB / (millis / 1000)).toFixed(0)} MiB/s`
}

/** MiB/s of data through `fn` over ~1 s. */
function timed(bytes: number, fn: () => void): number {
  let n = 0
  const s = process.hrtime.bigint()
  while (ms(s) < 1000) {
    fn()
    n++
  }
  return (bytes * n) / MiB / (ms(s) / 1000)
}

function codecs(): void {
  const block = 64 * 1024
  for (const [k, m] of [
    [4, 2],
    [20, 6],
    [20, 10]
  ]) {
    const code = new ErasureCode(k, m, block)
    const shards = code.shards(block)
    for (let i = 0; i < k; i++) sodium.randombytes_buf(shards[i] as Buffer)
    const enc = timed(k * block, () => code.encode())
    const lost = Array.from({ length: m }, (_, i) => i)
    const present = Array.from({ length: k }, (_, i) => i + m)
    const dec = timed(k * block, () => code.reconstruct(present, lost))
    const row = [
      `${k}+${m}, 64 KiB blocks: ours encode ${enc.toFixed(0)}, decode (${m} data shards lost) ${dec.toFixed(0)} MiB/s`
    ]
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { ReedSolomonErasure } = require('@digitaldefiance/reed-solomon-erasure.wasm')
      const w = ReedSolomonErasure.fromCurrentDirectorySync()
      const buf = new Uint8Array(block * (k + m))
      row.push(
        `reed-solomon-erasure.wasm encode ${timed(k * block, () => w.encode(buf, k, m)).toFixed(0)}`
      )
    } catch {
      row.push('reed-solomon-erasure.wasm not installed')
    }
    console.log(row.join('; '))
  }
}

function planBench(): Promise<void> {
  const offers = Array.from({ length: 2000 }, (_, i) => hddOffer(i))
  return (async () => {
    const s = process.hrtime.bigint()
    const inst = await instantiate(loadTemplate(EXAMPLE), { capacity: '1PB', country: 'CH' })
    const { plans } = await planInstance({ offers: async () => offers }, inst)
    const p = plans[0]
    console.log(
      `1 PB plan over 2,000 offers in CH: ${ms(s).toFixed(0)} ms; ${p.groups} groups of 30 (20+10), ${p.holders} leases on ${p.nodes} nodes, ${p.overhead}× stored, ${p.perMonth.toLocaleString('en-US')} a month`
    )
  })()
}

/** MiB/s of one raw HyperDHT stream between two DHT nodes of `net`, in this process. */
async function raw(net: Awaited<ReturnType<typeof startTestnet>>, bytes: number): Promise<number> {
  const a = net.createNode()
  const c = net.createNode()
  const chunk = b4a.alloc(MiB)
  const server = a.createServer({}, (s) => {
    s.on('error', () => {})
    let i = 0
    const more = (): void => {
      while (i < bytes / MiB) {
        i++
        if (!s.write(chunk)) return void s.once('drain', more)
      }
      s.end()
    }
    more()
  })
  const kp = generateKeyPair()
  await server.listen(kp)
  const took = await measured(
    'raw HyperDHT stream',
    () =>
      new Promise<void>((resolve) => {
        const s = c.connect(kp.publicKey)
        s.on('data', () => {})
        s.on('end', () => {
          s.end()
          resolve()
        })
        s.on('error', () => resolve())
      })
  )
  await a.destroy()
  await c.destroy()
  return bytes / MiB / (took / 1000)
}

/** `fn`'s wall time, and this process's CPU (all threads) and, with ARCHIVE_PROFILE, its stages. */
async function measured(what: string, fn: () => Promise<unknown>): Promise<number> {
  const profile = PROFILE ? new CpuProfile() : null
  await profile?.start()
  const cpu = process.cpuUsage()
  const s = process.hrtime.bigint()
  await fn()
  const took = ms(s)
  const used = process.cpuUsage(cpu)
  const mib = SIZE / MiB
  console.log(
    `${what}: ${(took / 1000).toFixed(1)} s, CPU (all threads) ${((used.user + used.system) / mib).toFixed(0)} µs per MiB of plaintext`
  )
  if (profile !== null) console.log(perMiB(what, await profile.stop(), mib))
  return took
}

async function main(): Promise<void> {
  if (STREAM.length === 0) {
    codecs()
    await planBench()
    await holderStore()
  }
  if (NODES === 0) return // ARCHIVE_NODES=0: the code and the plan only
  const { t, done } = shim()
  const net = await startTestnet(3)
  t.teardown(() => net.destroy(), { order: Infinity })
  try {
    if (STREAM.length > 0) return await streamBench(t, net, NODES, STREAM)
    // room for the file and a little more
    const a = await benchWorld(t, net, NODES, SIZE * 1.25)
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'scit-bench-')), 'data.bin')
    const out = fs.openSync(file, 'w')
    const chunk = b4a.alloc(MiB)
    for (let i = 0; i < SIZE / MiB; i++) {
      sodium.randombytes_buf(chunk)
      fs.writeSync(out, chunk)
    }
    fs.closeSync(out)
    const rawRate = await raw(net, SIZE)
    const base = process.memoryUsage().rss
    let peak = 0
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100)
    const putMs = await measured('put', () => put(a.session, [file]))
    const putPeak = peak
    peak = 0
    const getMs = await measured('get', () => get(a.session, 'data.bin', { out: `${file}.back` }))
    clearInterval(sampler)
    console.log(
      `${SIZE / MiB} MiB, ${K}+${M} over ${NODES} in-process nodes: put ${rate(SIZE, putMs)}, get ${rate(SIZE, getMs)} of plaintext; a raw HyperDHT stream in the same process ${rawRate.toFixed(0)} MiB/s (put ${((SIZE / MiB / (putMs / 1000) / rawRate) * 100).toFixed(0)} %, get ${((SIZE / MiB / (getMs / 1000) / rawRate) * 100).toFixed(0)} %); peak RSS of this process (bot and ${NODES} nodes) ${(base / MiB).toFixed(0)} MiB before, put ${(putPeak / MiB).toFixed(0)} MiB (+${((putPeak - base) / MiB).toFixed(0)}), get ${(peak / MiB).toFixed(0)} MiB (+${((peak - base) / MiB).toFixed(0)})`
    )
    fs.rmSync(path.dirname(file), { recursive: true, force: true })

    // answers of the get still on the way (cancelled ones) land before the window opens
    for (let last = -1; last !== a.bot.shardTraffic().fetched;) {
      last = a.bot.shardTraffic().fetched
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    const before = a.bot.shardTraffic()
    const wire = wireBytes(a.bot.swarm)
    const victim = a.d.trades.find((x) => x.phase === 'settled')
    const node = a.nodes.find((n) => n.key === victim?.node)
    if (!victim || !node) throw new Error('no holder')
    a.bot.monitor.start()
    const done2 = healed(a.bot)
    const s = process.hrtime.bigint()
    await node.close()
    await done2
    const fresh = a.d.trades.find((x) => x.replaces === victim.id)
    const holder = a.nodes.find((n) => n.key === fresh?.node)
    if (!fresh || !holder) throw new Error('no replacement')
    await nodeState(holder, fresh.id, (st) => st === 'running')
    const proved = await a.bot.monitor.challenge(a.d, fresh)
    const after = a.bot.shardTraffic()
    const shard = Math.ceil(SIZE / K / 65536) * 65536
    console.log(
      `repair: holder stopped → replacement rebuilt its ${(shard / MiB).toFixed(1)} MiB shard and ${proved ? 'proved it' : 'FAILED its proof'} in ${(ms(s) / 1000).toFixed(1)} s (grace ${a.bot.monitor.opts.grace / 1000} s); meanwhile through the bot: shard blocks stored ${after.stored - before.stored} B, fetched ${after.fetched - before.fetched} B; every byte on its connections (liveness, market, the new lease, one challenge at the end; no periodic challenges) ${wire().toLocaleString('en-US')} B`
    )
  } finally {
    await done()
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
