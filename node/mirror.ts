/**
 * Mirror workloads (docs/ARCHITECTURE.md "Execution"): the node keeps Hypercores whole (the
 * contract core, and `mirror.source` when named) and answers storage challenges.
 * Bytes kept count against the lease's ssd + hdd. Vanished blocks are not
 * re-fetched: a node that lost data must fail its challenges so bots replace it.
 */
import { EventEmitter } from 'events'
import type Hypercore from 'hypercore'
import { ScitError } from '../lib/errors'
import { formatSize } from '../lib/resources'
import { logger } from '../lib/log'
import type { Holder } from './workload'

const log = logger('node/mirror')

export interface MirrorTarget {
  cores: Hypercore[]
  /** ssd + hdd of the lease. */
  limit: number
}

interface MirrorProgress {
  held: number
  total: number
  done: boolean
}

interface Download {
  done(): Promise<void>
  destroy(): void
}

export class MirrorKeeper extends EventEmitter implements Holder {
  private readonly ranges = new Set<Download>()
  private stopped = false
  private held = 0
  private step = -1
  private wake: (() => void) | null = null
  private readonly ondownload = (_index: number, bytes: number): void => {
    this.held += bytes
    this.report(false)
  }
  private readonly onappend = (): void => {
    this.wake?.()
  }

  constructor(readonly target: MirrorTarget) {
    super()
  }

  get total(): number {
    return this.target.cores.reduce((n, c) => n + c.byteLength, 0)
  }

  /** Keep the cores until stopped. Rejects (CAPACITY) when they need more bytes than the lease. */
  async run(): Promise<void> {
    for (const core of this.target.cores) {
      core.on('download', this.ondownload)
      core.on('append', this.onappend)
    }
    try {
      while (!this.stopped) {
        const appended = new Promise<void>((resolve) => {
          this.wake = resolve
        })
        await this.sync()
        if (this.stopped) return
        await appended
      }
    } finally {
      for (const core of this.target.cores) {
        core.off('download', this.ondownload)
        core.off('append', this.onappend)
      }
    }
  }

  private async sync(): Promise<void> {
    const total = this.total
    if (total > this.target.limit) {
      throw new ScitError(
        'CAPACITY',
        `the mirror is ${formatSize(total)}, more than the ${formatSize(this.target.limit)} of disk its lease pays for`
      )
    }
    // a source core not found yet: not done; its first append wakes us
    if (this.target.cores.some((c) => c.length === 0)) {
      this.report(false)
      return
    }
    const missing: Hypercore[] = []
    for (const core of this.target.cores) if (!(await core.has(0, core.length))) missing.push(core)
    if (missing.length === 0) {
      this.held = total
      this.step = -1
      this.report(true)
      return
    }
    if (this.held >= total) this.held = 0 // grew or resumed partly held: count this round afresh
    this.step = -1
    this.report(false)
    await Promise.all(
      missing.map(async (core) => {
        const range = core.download({ start: 0, end: core.length })
        this.ranges.add(range)
        try {
          await range.done()
        } catch (err) {
          if (!this.stopped) throw err
        } finally {
          this.ranges.delete(range)
        }
      })
    )
    if (this.stopped) return
    for (const core of missing) {
      if (!(await core.has(0, core.length)))
        throw new ScitError(
          'NOT_FOUND',
          'a download finished without every block: the core changed under it'
        )
    }
    this.held = total
    this.report(true)
  }

  private report(done: boolean): void {
    const total = this.total
    const held = Math.min(this.held, total)
    const step = done ? 10 : total === 0 ? 0 : Math.floor((held * 10) / total)
    if (step === this.step) return
    this.step = step
    this.emit('progress', {
      done,
      text: describeProgress({ held, total, done }, this.target.limit)
    })
  }

  /** Stop fetching and keep what is held (shutdown, or an update replaces this keeper). */
  detach(): void {
    this.stopped = true
    for (const r of this.ranges) r.destroy()
    this.ranges.clear()
    this.wake?.()
  }

  /** Delete every kept block: the lease is over. Resolves with the bytes cleared. */
  async release(): Promise<number> {
    this.detach()
    let cleared = 0
    for (const core of this.target.cores) {
      if (core.closed || core.length === 0) continue
      try {
        await core.clear(0, core.length)
        cleared += core.byteLength
      } catch (err) {
        log.warn('could not clear a mirrored core', { err: (err as Error).message })
      }
    }
    return cleared
  }
}

function describeProgress(p: MirrorProgress, limit: number): string {
  if (p.done) return `holds ${formatSize(p.total)} (lease ${formatSize(limit)})`
  const pct = p.total === 0 ? 0 : Math.floor((p.held * 100) / p.total)
  return `downloading ${pct}%: ${formatSize(p.held)} of ${formatSize(p.total)}`
}
