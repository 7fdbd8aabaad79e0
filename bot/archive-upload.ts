/**
 * The write half of a put: an entry's ciphertext is cut into stripes
 * (lib/archive/layout.ts), each coded into k + m blocks inside the erasure
 * code's own buffers, block j going to the holder of shard j, and into shard
 * j's Merkle tree, whose head the commit record signs. Memory stays bounded:
 * one stripe, and a window of unacknowledged blocks per holder.
 */
import b4a from 'b4a'
import { ScitError } from '../lib/errors'
import { ErasureCode } from '../lib/archive/erasure'
import { TreeBuilder } from '../lib/archive/merkle'
import { stripesOf, type StripeRef } from '../lib/archive/layout'
import type { SegmentPlan, ShardRef } from '../lib/archive/messages'
import type { ShardChannel } from '../lib/archive/shard-channel'

/**
 * Bytes sent per store message; unacknowledged bytes across all holders of a put at most. The window is live
 * memory (as messages, then ciphertext until the transport's ack) on top of V8's slack for garbage buffers;
 * 16 MiB still keeps ≥ 512 KiB in flight to each of 30 holders (10 MiB/s each at a 50 ms round trip).
 */
const BATCH = 256 * 1024
const WINDOW = 16 * 1024 * 1024

/** What one of `n` holders may have unacknowledged: a share of the put's window, at least two messages. */
export function holderWindow(n: number): number {
  return Math.max(2 * BATCH, Math.floor(WINDOW / n))
}

/** Sends one shard of one segment to its holder, in order, a window of bytes ahead of the acknowledgements. */
export class Uploader {
  /** Why this holder gets no more: it refused or vanished (it rebuilds the shard once committed). */
  failed: Error | null = null
  private batch: Buffer[] = []
  private batchBytes = 0
  private next = 0
  private inflight = 0
  private readonly pending = new Set<Promise<void>>()
  private waiting: (() => void) | null = null

  constructor(
    private readonly channel: ShardChannel | null,
    private readonly ref: ShardRef,
    private readonly window: number
  ) {
    if (channel === null) this.failed = new ScitError('UNAVAILABLE', 'not reached')
  }

  push(block: Buffer): void {
    if (this.failed !== null) return
    this.batch.push(block)
    this.batchBytes += block.byteLength
    if (this.batchBytes >= BATCH) this.send()
  }

  /** Resolves once this holder may take more (or has failed). */
  async room(): Promise<void> {
    while (this.failed === null && this.inflight >= this.window)
      await new Promise<void>((resolve) => {
        this.waiting = resolve
      })
  }

  /** Everything sent and acknowledged (or this holder failed). */
  async flush(): Promise<void> {
    if (this.batch.length > 0) this.send()
    while (this.pending.size > 0) await Promise.all(this.pending)
  }

  private send(): void {
    const blocks = this.batch
    const bytes = this.batchBytes
    const start = this.next
    this.batch = []
    this.batchBytes = 0
    this.next += blocks.length
    if (this.failed !== null || this.channel === null) return
    this.inflight += bytes
    const p: Promise<void> = this.channel.store(this.ref, start, blocks).then(
      () => {
        this.inflight -= bytes
      },
      (err: Error) => {
        this.inflight -= bytes
        this.failed ??= err
      }
    )
    const done = p.finally(() => {
      this.pending.delete(done)
      this.waiting?.()
    })
    this.pending.add(done)
  }
}

export interface StripeTarget {
  /** One uploader per shard of each segment, in segment order. */
  uploaders: Uploader[][]
}

/**
 * Takes an entry's ciphertext in order and codes it stripe by stripe;
 * `heads(segment)` are the shard trees once the segment's last stripe is out.
 */
export class StripeWriter {
  private readonly stripes: Generator<StripeRef>
  private current: StripeRef | null = null
  private shards: Uint8Array[] = []
  private filled = 0
  private readonly trees: TreeBuilder[][]

  constructor(
    private readonly codec: ErasureCode,
    segments: SegmentPlan[],
    private readonly target: StripeTarget,
    /** Called once each segment's last stripe is handed to its uploaders. */
    private readonly onSegment: (segment: number) => Promise<void>
  ) {
    this.stripes = stripesOf(segments, codec.k)
    this.trees = segments.map(() => Array.from({ length: codec.n }, () => new TreeBuilder()))
    this.advance()
  }

  heads(segment: number): Buffer[] {
    return this.trees[segment].map((t) => t.head().treeHash)
  }

  async write(data: Buffer): Promise<void> {
    let at = 0
    while (at < data.byteLength) {
      const s = this.current
      if (s === null) throw new ScitError('INVALID_ARGUMENT', 'more bytes than the entry planned')
      const take = Math.min(data.byteLength - at, s.bytes - this.filled)
      this.copy(data.subarray(at, at + take))
      at += take
      if (this.filled === s.bytes) await this.finish(s)
    }
  }

  /** All planned bytes were written. */
  get done(): boolean {
    return this.current === null
  }

  private advance(): void {
    const next = this.stripes.next()
    this.current = next.done === true ? null : next.value
    this.filled = 0
    if (this.current !== null) this.shards = this.codec.shards(this.current.block)
  }

  /** Stripe bytes go to data shards in order: shard j holds bytes [j·block, (j+1)·block) of the stripe. */
  private copy(bytes: Uint8Array): void {
    const block = (this.current as StripeRef).block
    let at = 0
    while (at < bytes.byteLength) {
      const j = Math.floor(this.filled / block)
      const off = this.filled % block
      const n = Math.min(block - off, bytes.byteLength - at)
      this.shards[j].set(bytes.subarray(at, at + n), off)
      at += n
      this.filled += n
    }
  }

  private async finish(s: StripeRef): Promise<void> {
    const k = this.codec.k
    // the last stripe of a segment is zero-padded to k whole blocks
    for (let j = Math.floor(this.filled / s.block); j < k; j++)
      this.shards[j].fill(0, j === Math.floor(this.filled / s.block) ? this.filled % s.block : 0)
    this.codec.encode()
    const ups = this.target.uploaders[s.segment]
    await Promise.all(ups.map((u) => u.room()))
    for (let i = 0; i < this.codec.n; i++) {
      const block = b4a.from(this.shards[i]) // the codec's buffers are the next stripe's
      this.trees[s.segment][i].append(block)
      ups[i].push(block)
    }
    const last = s.segment
    this.advance()
    if (this.current === null || this.current.segment !== last) await this.onSegment(last)
  }
}
