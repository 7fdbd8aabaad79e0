/**
 * Memory of a put and a get of large files (`ARCHIVE_STREAM_MIB=256,2048 npm
 * run bench -- archive`): each file is sparse (its bytes are made by the
 * kernel as it is read: neither in RAM nor on disk; sealing makes them random
 * before coding), put, got back to a file that is checked by the get's own
 * hash and removed, and removed from the archive. Printed per size: MiB/s
 * and this process's peak RSS (bot and nodes) over the RSS before; bounded
 * means the same rise at every size.
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { MiB } from '../../lib/resources'
import type { Testnet } from '../../lib/testnet'
import { put } from '../../bot/archive-put'
import { get } from '../../bot/archive-get'
import { rm } from '../../bot/archive-health'
import type { Assert } from 'brittle'
import { benchWorld } from './archive-world'
import { ms } from './shim'

/** Peak RSS while `fn` runs, sampled every 100 ms. */
async function peakDuring(fn: () => Promise<unknown>): Promise<{ peak: number; millis: number }> {
  let peak = process.memoryUsage().rss
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100)
  const s = process.hrtime.bigint()
  try {
    await fn()
  } finally {
    clearInterval(sampler)
  }
  return { peak: Math.max(peak, process.memoryUsage().rss), millis: ms(s) }
}

export async function streamBench(
  t: Assert,
  net: Testnet,
  nodes: number,
  sizes: number[]
): Promise<void> {
  const a = await benchWorld(t, net, nodes, Math.max(...sizes) * 1.25)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-bench-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const base = process.memoryUsage().rss
  console.log(`RSS before the first put (bot and ${nodes} nodes): ${(base / MiB).toFixed(0)} MiB`)
  for (const size of sizes) {
    const file = path.join(dir, `sparse-${size / MiB}`)
    fs.closeSync(fs.openSync(file, 'w'))
    fs.truncateSync(file, size)
    const p = await peakDuring(() => put(a.session, [file]))
    fs.rmSync(file)
    const g = await peakDuring(() => get(a.session, path.basename(file), { out: file }))
    if (fs.statSync(file).size !== size) throw new Error('the file came back at another size')
    fs.rmSync(file)
    await rm(a.session, path.basename(file))
    const rate = (millis: number): string => `${(size / MiB / (millis / 1000)).toFixed(1)} MiB/s`
    const rise = (peak: number): string => `+${((peak - base) / MiB).toFixed(0)} MiB`
    console.log(
      `${size / MiB} MiB streamed: put ${rate(p.millis)}, peak RSS ${(p.peak / MiB).toFixed(0)} MiB (${rise(p.peak)}); get ${rate(g.millis)}, peak RSS ${(g.peak / MiB).toFixed(0)} MiB (${rise(g.peak)})`
    )
  }
}
