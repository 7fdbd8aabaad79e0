/**
 * Preloaded (`node -r memory-probe.js …`) into a process a bench measures: it
 * samples process.memoryUsage() every SCIT_MEMORY_EVERY ms (default 100) and
 * writes to SCIT_MEMORY_PROBE, as JSON, the peak of each field and a sample
 * every SCIT_MEMORY_EVERY × 50 ms (how it moved), and the process's CPU time
 * so far, each time it samples a new peak and on exit. Bench-only: nothing of
 * scit loads it.
 */
import fs from 'fs'

export interface MemorySample {
  ms: number
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

export interface MemoryProbe {
  peak: MemorySample
  samples: MemorySample[]
  /** µs of CPU, all threads, user + system. */
  cpu: number
}

const file = process.env.SCIT_MEMORY_PROBE
if (file !== undefined && file !== '') {
  const every = Number(process.env.SCIT_MEMORY_EVERY ?? 100)
  const start = Date.now()
  const out: MemoryProbe = {
    peak: { ms: 0, rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 },
    samples: [],
    cpu: 0
  }
  let n = 0
  const write = (): void => {
    const c = process.cpuUsage()
    out.cpu = c.user + c.system
    fs.writeFileSync(file, JSON.stringify(out))
  }
  const sample = (): void => {
    const m = process.memoryUsage()
    const s: MemorySample = {
      ms: Date.now() - start,
      rss: m.rss,
      heapUsed: m.heapUsed,
      external: m.external,
      arrayBuffers: m.arrayBuffers
    }
    let rose = false
    for (const k of ['rss', 'heapUsed', 'external', 'arrayBuffers'] as const)
      if (s[k] > out.peak[k]) {
        out.peak[k] = s[k]
        rose = true
      }
    if (n++ % 50 === 0) out.samples.push(s)
    if (rose) out.peak.ms = s.ms
    if (rose || n % 50 === 1) write()
  }
  setInterval(sample, every).unref()
  process.on('exit', () => {
    sample()
    write()
  })
}
