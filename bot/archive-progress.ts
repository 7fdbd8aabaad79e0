/** Progress of a put or a get: bytes, rate and time left, at most four times a second, for a terminal or a script. */
import { formatSize } from '../lib/resources'

export interface Progress {
  name: string
  done: number
  total: number
  /** Bytes per second since the start. */
  rate: number
  /** Seconds left at that rate, null before it is known. */
  eta: number | null
}

export type ProgressFn = (p: Progress, final: boolean) => void

const EVERY = 250

export class Meter {
  private done = 0
  private readonly start = Date.now()
  private last = 0

  constructor(
    readonly name: string,
    readonly total: number,
    private readonly fn?: ProgressFn
  ) {}

  add(bytes: number): void {
    this.done += bytes
    const now = Date.now()
    if (this.fn !== undefined && now - this.last >= EVERY) {
      this.last = now
      this.fn(this.snapshot(now), false)
    }
  }

  end(): void {
    this.fn?.(this.snapshot(Date.now()), true)
  }

  private snapshot(now: number): Progress {
    const seconds = Math.max(0.001, (now - this.start) / 1000)
    const rate = this.done / seconds
    const eta = rate > 0 && this.done > 0 ? (this.total - this.done) / rate : null
    return { name: this.name, done: this.done, total: this.total, rate, eta }
  }
}

/** One line, redrawn in place on a terminal: `photos  120 MiB of 1 GiB  45 MiB/s  0:21 left`. */
export function progressLine(p: Progress): string {
  const pct = p.total === 0 ? 100 : Math.floor((p.done * 100) / p.total)
  const eta = p.eta === null ? '' : `  ${clock(p.eta)} left`
  return `${p.name}  ${formatSize(p.done)} of ${formatSize(p.total)} (${pct}%)  ${formatSize(Math.round(p.rate))}/s${eta}`
}

function clock(seconds: number): string {
  const s = Math.ceil(seconds)
  const m = Math.floor(s / 60)
  return m >= 60
    ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`
    : `${m}:${String(s % 60).padStart(2, '0')}`
}
