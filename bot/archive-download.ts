/**
 * The read half of a get: an entry's ciphertext, stripe by stripe, from the
 * holders of its groups. Each window of stripes is asked of k + 2 holders
 * (data shards first: they decode nothing) and taken from the first k that
 * answer; the others are cancelled, so a slow holder never sets the pace. A
 * holder that fails is replaced by the next. Windows are fetched ahead, a
 * bounded number at a time.
 */
import b4a from 'b4a'
import { ScitError } from '../lib/errors'
import { ErasureCode } from '../lib/archive/erasure'
import { BlockVerifier } from '../lib/archive/merkle'
import { blockOf, BLOCK } from '../lib/archive/layout'
import type { Entry, Segment } from '../lib/archive/catalog'
import type { ShardChannel } from '../lib/archive/shard-channel'

/** Bytes of one window across the k shards read; windows in flight. */
const WINDOW_BYTES = 8 * 1024 * 1024
const AHEAD = 2
/** Holders asked beyond k. */
const EXTRA = 2

export interface ReadOptions {
  k: number
  m: number
  contract: Buffer
  /** The holders of each group, by shard (null: unreached). */
  holders: (group: number) => Array<ShardChannel | null>
  /** Check every block against its shard's signed head (after an entry failed to decrypt). */
  verify: boolean
}

interface Window {
  segment: number
  start: number
  end: number
}

export class StripeReader {
  private readonly codec: ErasureCode
  /** Holders that failed during this read: asked no more. */
  private readonly failed = new Set<string>()
  private readonly verifiers = new Map<string, BlockVerifier | null>()

  constructor(
    private readonly entry: Entry,
    private readonly opts: ReadOptions
  ) {
    this.codec = new ErasureCode(
      opts.k,
      opts.m,
      Math.max(BLOCK, ...entry.segments.map((s) => s.block))
    )
  }

  /** The entry's ciphertext, in order, padding removed. */
  async *bytes(): AsyncGenerator<Buffer> {
    const windows = this.windows()
    const ahead: Array<Promise<Buffer[][]>> = []
    let next = 0
    const launch = (): void => {
      while (ahead.length < AHEAD && next < windows.length) {
        const p = this.fetch(windows[next++])
        p.catch(() => null) // awaited below, in order
        ahead.push(p)
      }
    }
    launch()
    for (const w of windows) {
      const got = await (ahead.shift() as Promise<Buffer[][]>)
      launch()
      yield* this.decode(w, got)
    }
  }

  private windows(): Window[] {
    const out: Window[] = []
    const k = this.opts.k
    this.entry.segments.forEach((seg, segment) => {
      const per = Math.max(1, Math.min(64, Math.floor(WINDOW_BYTES / (k * seg.block))))
      for (let start = 0; start < seg.length; start += per)
        out.push({ segment, start, end: Math.min(seg.length, start + per) })
    })
    return out
  }

  /** Blocks [start, end) of k shards: result[shard] is null for the shards not used. */
  private async fetch(w: Window): Promise<Buffer[][]> {
    const { k, m } = this.opts
    const seg = this.entry.segments[w.segment]
    const channels = this.opts.holders(seg.group)
    // data shards first (nothing to decode), then parity; failed holders last resort only
    const order = [...Array(k + m).keys()].filter(
      (i) => channels[i] !== null && !this.failed.has(`${seg.group}:${i}`)
    )
    const got: Buffer[][] = new Array(k + m).fill(null)
    let ok = 0
    let tried = 0
    const aborts: AbortController[] = []
    const errors: string[] = []
    await new Promise<void>((resolve) => {
      let running = 0
      const more = (): void => {
        while (ok + running < k + EXTRA && tried < order.length && ok < k) {
          const shard = order[tried++]
          const abort = new AbortController()
          aborts.push(abort)
          running++
          this.read(channels[shard] as ShardChannel, seg, w, shard, abort.signal).then(
            (blocks) => {
              running--
              if (ok < k) {
                got[shard] = blocks
                ok++
              }
              if (ok >= k) resolve()
              else more()
            },
            (err: Error) => {
              running--
              if (!abort.signal.aborted) {
                this.failed.add(`${seg.group}:${shard}`)
                errors.push(`shard ${shard}: ${err.message}`)
              }
              more()
              if (running === 0 && (ok >= k || tried >= order.length)) resolve()
            }
          )
        }
        if (running === 0) resolve()
      }
      more()
    })
    for (const a of aborts) a.abort()
    if (ok < k)
      throw new ScitError(
        'UNAVAILABLE',
        `group ${seg.group}: only ${ok} of the ${k} holders needed answered for stripes ${w.start}-${w.end - 1}${errors.length ? ` (${errors.slice(0, 3).join('; ')})` : ''}`
      )
    return got
  }

  private async read(
    ch: ShardChannel,
    seg: Segment,
    w: Window,
    shard: number,
    signal: AbortSignal
  ): Promise<Buffer[]> {
    const ref = {
      contract: this.opts.contract,
      group: seg.group,
      entry: this.entry.id,
      segment: w.segment,
      shard
    }
    const r = await ch.fetch(ref, w.start, w.end, {
      proveAt: this.opts.verify ? seg.length : 0,
      signal
    })
    if (r.blocks.length !== w.end - w.start) throw new Error('short answer')
    for (let i = 0; i < r.blocks.length; i++)
      if (r.blocks[i].byteLength !== blockOf(seg, this.opts.k, w.start + i))
        throw new Error('a block of the wrong size')
    if (this.opts.verify) {
      const id = `${w.segment}:${shard}`
      if (!this.verifiers.has(id))
        this.verifiers.set(
          id,
          BlockVerifier.from(
            { length: seg.length, treeHash: (seg.heads as Buffer[])[shard] },
            r.roots
          )
        )
      const v = this.verifiers.get(id) ?? null
      if (v === null) throw new Error('its tree is not the signed one')
      r.blocks.forEach((b, i) => {
        if (!v.verify(w.start + i, b, r.paths[i] ?? []))
          throw new Error(`block ${w.start + i} does not verify`)
      })
    }
    return r.blocks
  }

  private *decode(w: Window, got: Buffer[][]): Generator<Buffer> {
    const k = this.opts.k
    const seg = this.entry.segments[w.segment]
    const present = got.map((b, i) => (b === null ? -1 : i)).filter((i) => i >= 0)
    const missing = [...Array(k).keys()].filter((i) => got[i] === null)
    for (let s = w.start; s < w.end; s++) {
      const block = blockOf(seg, k, s)
      const bytes = Math.min(k * block, seg.bytes - s * k * seg.block)
      if (missing.length === 0) {
        yield trim(
          got.slice(0, k).map((b) => b[s - w.start]),
          bytes
        )
        continue
      }
      const shards = this.codec.shards(block)
      for (const i of present) shards[i].set(got[i][s - w.start])
      this.codec.reconstruct(present, missing)
      yield trim(
        shards.slice(0, k).map((x) => b4a.from(x)),
        bytes
      )
    }
  }
}

/** A stripe's bytes: its data blocks in order, without the last stripe's padding. */
function trim(blocks: Uint8Array[], bytes: number): Buffer {
  const all = b4a.concat(blocks)
  return all.byteLength === bytes ? all : all.subarray(0, bytes)
}
