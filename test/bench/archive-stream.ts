/**
 * Memory of a put and a get of large files (`ARCHIVE_STREAM_MIB=1024,2048
 * npm run bench -- archive`), as a user feels it: `scit bot archive put` and
 * `get` run as their own processes (the real binary, the bench's bot data dir),
 * against the holders in this process. Each file is sparse (its bytes are
 * made by the kernel as it is read: neither in RAM nor on disk; sealing makes
 * them random before coding), put, got back to a file that is checked by the
 * get's own hash and removed, and removed from the archive. Printed per size:
 * MiB/s, the command's peak RSS, heap, external and ArrayBuffer bytes
 * (memory-probe.ts) and its CPU per MiB, and this process's (the holders')
 * peak RSS apart; with ARCHIVE_PROFILE=1, the command's own CPU profile by
 * stage (profile.ts), the bot without the holders. Bounded means the same command peak at every size.
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { spawn } from 'child_process'
import { MiB } from '../../lib/resources'
import { encodeKey } from '../../lib/keys'
import type { Testnet } from '../../lib/testnet'
import type { Assert } from 'brittle'
import { SCIT } from '../helpers/runtime'
import { benchWorld } from './archive-world'
import type { MemoryProbe } from './memory-probe'
import { ms } from './shim'
import { stages, perMiB, type Profile } from './profile'

const PROBE = path.join(__dirname, 'memory-probe.js')
const PROFILE = process.env.ARCHIVE_PROFILE === '1'

interface Measured {
  millis: number
  probe: MemoryProbe
  /** This process's (the holders') peak RSS meanwhile. */
  nodes: number
  /** ARCHIVE_PROFILE=1: ms of the command's main thread per stage. */
  profile: Map<string, number> | null
}

/** `scit ARGS` as a child with the memory probe preloaded; its probe and the time it took. */
function scitMeasured(args: string[], probeFile: string): Promise<Measured> {
  let nodes = process.memoryUsage().rss
  const sampler = setInterval(() => (nodes = Math.max(nodes, process.memoryUsage().rss)), 100)
  const s = process.hrtime.bigint()
  const profiles = path.join(path.dirname(probeFile), 'cpu')
  const prof = PROFILE ? ['--cpu-prof', '--cpu-prof-dir', profiles] : []
  const child = spawn(process.execPath, [...prof, '-r', PROBE, SCIT, ...args], {
    env: { ...process.env, SCIT_MEMORY_PROBE: probeFile },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  return new Promise<Measured>((resolve, reject) => {
    child.on('exit', (code) => {
      clearInterval(sampler)
      const millis = ms(s)
      if (code !== 0) return reject(new Error(`scit ${args.slice(0, 3).join(' ')}: ${out.trim()}`))
      const probe = JSON.parse(fs.readFileSync(probeFile, 'utf8')) as MemoryProbe
      let profile: Map<string, number> | null = null
      if (PROFILE) {
        const file = fs.readdirSync(profiles).find((f) => f.endsWith('.cpuprofile')) as string
        profile = stages(JSON.parse(fs.readFileSync(path.join(profiles, file), 'utf8')) as Profile)
        fs.rmSync(profiles, { recursive: true, force: true })
      }
      resolve({ millis, probe, nodes, profile })
    })
  })
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
  // the data dir is the command's now (one process opens it at a time)
  const data = a.bot.opts.data
  await a.bot.close()
  const flags = [
    '--data',
    data,
    '--market',
    encodeKey(a.w.key),
    '--bootstrap',
    net.bootstrap.map((b) => `${b.host}:${b.port}`).join(','),
    '--json'
  ]
  const base = process.memoryUsage().rss
  console.log(`RSS of this process (the market and ${nodes} holders) before: ${mb(base)}`)
  const probe = path.join(dir, 'probe.json')
  for (const size of sizes) {
    const file = path.join(dir, `sparse-${size / MiB}`)
    fs.closeSync(fs.openSync(file, 'w'))
    fs.truncateSync(file, size)
    const p = await scitMeasured(['bot', 'archive', 'put', 'vault', file, ...flags], probe)
    fs.rmSync(file)
    const g = await scitMeasured(
      ['bot', 'archive', 'get', 'vault', path.basename(file), '--out', file, ...flags],
      probe
    )
    if (fs.statSync(file).size !== size) throw new Error('the file came back at another size')
    fs.rmSync(file)
    await scitMeasured(['bot', 'archive', 'rm', 'vault', path.basename(file), ...flags], probe)
    const rate = (millis: number): string => `${(size / MiB / (millis / 1000)).toFixed(1)} MiB/s`
    const line = (what: string, m: Measured): string =>
      `${what} ${rate(m.millis)}, the command's CPU ${(m.probe.cpu / (size / MiB)).toFixed(0)} µs per MiB, peak RSS ${mb(m.probe.peak.rss)} (heap ${mb(m.probe.peak.heapUsed)}, external ${mb(m.probe.peak.external)}, of it ArrayBuffers ${mb(m.probe.peak.arrayBuffers)}; RSS at 1/4, 1/2, 3/4, end: ${quarters(m.probe)}), holders' RSS +${mb(m.nodes - base)}`
    console.log(`${size / MiB} MiB streamed: ${line('put', p)}; ${line('get', g)}`)
    for (const [what, m] of [
      ['put', p],
      ['get', g]
    ] as const)
      if (m.profile !== null) console.log(perMiB(`scit bot archive ${what}`, m.profile, size / MiB))
  }
}

const mb = (bytes: number): string => `${(bytes / MiB).toFixed(0)} MiB`

/** The command's RSS a quarter, half and three quarters into its samples, and at the last. */
function quarters(p: MemoryProbe): string {
  const s = p.samples
  if (s.length === 0) return '-'
  return [0.25, 0.5, 0.75, 1]
    .map((f) => (s[Math.min(s.length - 1, Math.floor(f * (s.length - 1)))].rss / MiB).toFixed(0))
    .join(', ')
}
