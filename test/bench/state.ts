/**
 * Declared state (node/state-keeper.ts, bot/state-copies.ts):
 *   1. snapshot cost: CPU ms and bytes appended per MiB changed (10 MiB of state, 1 MiB rewritten), and a snapshot with nothing changed;
 *   2. restore time of 1 MiB and 100 MiB from a peer's state core (two local stores, replicated in process), every hash verified;
 *   3. the CRM on a local testnet (interval 1 s, grace 2 s): a write until the bot holds a verified snapshot of it
 *      (the data-loss window of a crash is at most one interval more), and node death until the healed CRM serves its data again.
 *   node dist/test/bench/state.js
 */
import fs from 'fs'
import path from 'path'
import crypto from 'crypto'
import type { Duplex } from 'stream'
import b4a from 'b4a'
import Corestore from 'corestore'
import { generateKeyPair } from '../../lib/identity'
import { MiB } from '../../lib/resources'
import { StateKeeper } from '../../node/state-keeper'
import { restore } from '../../node/restore'
import { workloadId } from '../../lib/trade-workload'
import { testnet } from '../helpers/net'
import { world, node, bot, healed } from '../helpers/deploy'
import { crmTemplate, addContact, contacts, hashOf, verified, tunnelTo } from '../helpers/state'
import { deploy, waitRunning } from '../../bot/deployment'
import { sandboxAvailable } from '../../node/sandbox'
import { shim, ms } from './shim'

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(since)
  return (u.user + u.system) / 1000
}

async function snapshotCost(dir: string): Promise<void> {
  const work = path.join(dir, 'work')
  fs.mkdirSync(work)
  for (let i = 0; i < 10; i++)
    fs.writeFileSync(path.join(work, `part-${i}.bin`), crypto.randomBytes(MiB))
  const store = new Corestore(path.join(dir, 'a'))
  const k = new StateKeeper(store, generateKeyPair(), {
    id: 'bench',
    contract: b4a.alloc(32),
    spec: { paths: fs.readdirSync(work).sort(), interval: 60_000 },
    limit: 1024 * MiB,
    workDir: work,
    staging: path.join(dir, 'staging')
  })
  await k.open()
  let cpu = process.cpuUsage()
  let s = process.hrtime.bigint()
  let bytes = k.core.byteLength
  await k.snapshot()
  console.log(
    `first snapshot of 10 MiB in 10 files: ${cpuMs(cpu).toFixed(0)} ms CPU, ${ms(s).toFixed(0)} ms wall, ${((k.core.byteLength - bytes) / MiB).toFixed(2)} MiB appended`
  )
  fs.writeFileSync(path.join(work, 'part-3.bin'), crypto.randomBytes(MiB))
  cpu = process.cpuUsage()
  s = process.hrtime.bigint()
  bytes = k.core.byteLength
  await k.snapshot()
  console.log(
    `1 MiB changed (1 of 10 files rewritten): ${cpuMs(cpu).toFixed(1)} ms CPU, ${ms(s).toFixed(1)} ms wall, ${(k.core.byteLength - bytes).toLocaleString('en-US')} bytes appended per MiB changed`
  )
  cpu = process.cpuUsage()
  s = process.hrtime.bigint()
  const none = await k.snapshot()
  console.log(
    `nothing changed: ${cpuMs(cpu).toFixed(2)} ms CPU, ${ms(s).toFixed(2)} ms wall (stat only, ${none === null ? 'no snapshot appended' : 'APPENDED ONE'})`
  )
  await k.close(false)
  await store.close()
}

async function restoreTime(dir: string, mib: number): Promise<void> {
  const work = path.join(dir, `w${mib}`)
  fs.mkdirSync(work)
  fs.writeFileSync(path.join(work, 'data.bin'), crypto.randomBytes(mib * MiB))
  const node = generateKeyPair()
  const contract = b4a.alloc(32, 1)
  const a = new Corestore(path.join(dir, `a${mib}`))
  const b = new Corestore(path.join(dir, `b${mib}`))
  const k = new StateKeeper(a, node, {
    id: 'r.0',
    contract,
    spec: { paths: ['data.bin'], interval: 60_000 },
    limit: 1024 * MiB,
    workDir: work,
    staging: path.join(dir, 'staging')
  })
  await k.open()
  await k.snapshot()
  const last = k.last
  if (last === null) throw new Error('no snapshot')
  const s1 = a.replicate(true) as Duplex
  const s2 = b.replicate(false) as Duplex
  s1.pipe(s2).pipe(s1)
  const into = path.join(dir, `into${mib}`)
  fs.mkdirSync(into)
  const s = process.hrtime.bigint()
  const cpu = process.cpuUsage()
  await restore(
    b,
    {
      trade: 'n.0',
      from: 'r.0',
      node: node.publicKey,
      core: k.key,
      length: k.core.length,
      seq: last.snapshot.seq,
      hash: last.snapshot.hash
    },
    { contract, replica: 'r.0' },
    { staging: path.join(dir, `staging${mib}`), workDir: into }
  )
  const t = ms(s)
  console.log(
    `restore ${mib} MiB from a peer, every hash verified: ${t.toFixed(0)} ms (${(mib / (t / 1000)).toFixed(0)} MiB/s), ${cpuMs(cpu).toFixed(0)} ms CPU (both peers in this process)`
  )
  s1.destroy()
  s2.destroy()
  await k.close(false)
  await a.close()
  await b.close()
}

async function crm(): Promise<void> {
  const { t, done } = shim()
  try {
    const net = await testnet(t)
    const w = await world(t, net)
    const unsafeNoSandbox = !sandboxAvailable().ok
    const nodes = [await node(t, w, { unsafeNoSandbox }), await node(t, w, { unsafeNoSandbox })]
    const b = await bot(t, w)
    const d = await deploy(b, { template: await crmTemplate(t, { state: true, interval: '1s' }) })
    b.monitor.start()
    await waitRunning(b, d)
    const port = await tunnelTo(t, w, d.contract, b.identity) // follows the heal
    const lost = d.trades[0]
    const victim = nodes.find((n) => n.key === lost.node)
    if (!victim) throw new Error('no victim')
    const file = path.join(victim.supervisor.workDir(workloadId(lost)), 'data.json')
    const waits: number[] = []
    for (let i = 0; i < 5; i++) {
      await addContact(port, `Person${i}`)
      const s = process.hrtime.bigint()
      const want = await hashOf({ 'data.json': file })
      await verified(b, lost.id, (x) => b4a.equals(Buffer.from(x.hash, 'hex'), want))
      waits.push(ms(s))
    }
    const max = Math.max(...waits)
    console.log(
      `CRM, interval 1 s: a write is in a snapshot the bot verified after ${waits.map((x) => (x / 1000).toFixed(2)).join(', ')} s; data-loss window on a crash ≤ ${(max / 1000).toFixed(2)} s (≈ interval + snapshot + replication)`
    )
    const before = (await contacts(port)).length
    const healing = healed(b)
    const s = process.hrtime.bigint()
    await victim.close()
    const closed = ms(s)
    await healing
    const healedAt = ms(s)
    await waitRunning(b, d)
    const n = (await contacts(port)).length
    console.log(
      `CRM node death → serving its ${n} of ${before} contacts on another node: ${(ms(s) / 1000).toFixed(1)} s (grace ${b.monitor.opts.grace / 1000} s; target ≤ grace + 5 s): the node took ${(closed / 1000).toFixed(1)} s to stop (its last snapshot handed to the bot), the bot healed at ${(healedAt / 1000).toFixed(1)} s`
    )
  } finally {
    await done()
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'scit-state-bench-'))
  try {
    await snapshotCost(dir)
    await restoreTime(dir, 1)
    await restoreTime(dir, 100)
    await crm()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
