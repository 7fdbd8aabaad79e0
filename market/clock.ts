/**
 * A peer's market clock. The engine's time follows the ops' signed timestamps (market/engine), so one peer whose
 * clock runs ahead would end settlement windows, bid expiries and leases early for everyone. Indexers admit no op
 * stamped more than MAX_AHEAD past their clock (market/relay.ts), and every peer seals its ops with the median of
 * the clocks of the indexers it reaches (itself included when it is one): a node or bot whose clock is off by
 * minutes keeps trading, and one skewed indexer moves neither its clients nor the others.
 */
import { ScitError } from '../lib/errors'

/** How far past an indexer's clock an op's timestamp may be for it to take the op. */
export const MAX_AHEAD = 30_000
/** Within this of the indexers' clocks, a peer's own clock is used as it is (latency blurs what it measures). */
export const TOLERANCE = 2_000

/** An indexer refused an op stamped too far ahead of its clock; `time` is the indexer's clock as it answered. */
export class ClockAhead extends ScitError {
  constructor(
    readonly time: number,
    message: string
  ) {
    super('CLOCK_AHEAD', message)
  }
}

export function isClockAhead(err: unknown): err is ClockAhead {
  return err instanceof ClockAhead
}

/** Throws CLOCK_AHEAD for the first timestamp more than MAX_AHEAD past `now`. */
export function admit(timestamps: number[], now: number): void {
  for (let i = 0; i < timestamps.length; i++) {
    const ahead = timestamps[i] - now
    if (ahead > MAX_AHEAD)
      throw new ClockAhead(
        now,
        `op ${i} is stamped ${ahead} ms ahead of this indexer's clock (${new Date(now).toISOString()}; at most ${MAX_AHEAD} ms): the sender's clock is off`
      )
  }
}

export class PeerClock {
  /** Each indexer's clock minus ours, as last measured, by whatever reaches it (a relay channel). */
  private readonly offsets = new Map<object, number>()

  /** `raw`: this machine's clock; `indexer`: whether this peer is one (its own clock then counts too). */
  constructor(
    private readonly raw: () => number = Date.now,
    private readonly indexer: () => boolean = () => false
  ) {}

  local(): number {
    return this.raw()
  }

  now(): number {
    return this.raw() + this.offset()
  }

  /** `remote` was the other end's clock when it answered; `sent` and `received` bound that moment on ours. */
  measure(from: object, remote: number, sent: number, received = sent): void {
    this.offsets.set(from, remote - (sent + received) / 2)
  }

  forget(from: object): void {
    this.offsets.delete(from)
  }

  /** The median of the indexers' offsets; 0 when within TOLERANCE or none is known. */
  offset(): number {
    const all = [...this.offsets.values()]
    if (this.indexer()) all.push(0)
    if (all.length === 0) return 0
    all.sort((a, b) => a - b)
    const mid = all.length >> 1
    const median = all.length % 2 === 1 ? all[mid] : (all[mid - 1] + all[mid]) / 2
    return Math.abs(median) < TOLERANCE ? 0 : Math.round(median)
  }
}
