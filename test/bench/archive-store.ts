/**
 * A holder's storage alone: shard blocks appended to a core of a node's store
 * as a holder does (64 KiB blocks, four per append: one store message), CPU
 * of all threads per MiB stored, with the memtable nodes open their store
 * with (NODE_LIMITS) against the followers' (FOLLOWER_LIMITS), in turns.
 * 512 MiB: the gap grows with what the store holds (none at 128 MiB).
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import sodium from 'sodium-universal'
import b4a from 'b4a'
import { MiB } from '../../lib/resources'
import { openStore, FOLLOWER_LIMITS, NODE_LIMITS, type StoreLimits } from '../../lib/store'

/** µs of CPU (all threads) per MiB appended. */
async function perMiB(limits: StoreLimits, mib: number): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-bench-'))
  const store = openStore(dir, limits)
  try {
    const core = store.get({ name: 'shard' })
    await core.ready()
    const block = b4a.alloc(64 * 1024)
    sodium.randombytes_buf(block)
    const cpu = process.cpuUsage()
    for (let i = 0; i < mib * 16; i += 4) await core.append([0, 1, 2, 3].map(() => b4a.from(block)))
    const used = process.cpuUsage(cpu)
    return (used.user + used.system) / mib
  } finally {
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

export async function holderStore(mib = 512): Promise<void> {
  const mb = (limits: StoreLimits): string => `${(limits.writeBuffer ?? 0) / MiB} MiB`
  const runs: Record<string, number[]> = { node: [], follower: [] }
  for (let i = 0; i < 2; i++) {
    runs.node.push(await perMiB(NODE_LIMITS, mib))
    runs.follower.push(await perMiB(FOLLOWER_LIMITS, mib))
  }
  const range = (xs: number[]): string =>
    `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`
  console.log(
    `holder storage, ${mib} MiB of 64 KiB blocks appended 4 at a time, CPU (all threads) per MiB stored, 2 runs each in turns: memtable ${mb(NODE_LIMITS)} (nodes) ${range(runs.node)} µs, ${mb(FOLLOWER_LIMITS)} (followers) ${range(runs.follower)} µs`
  )
}
