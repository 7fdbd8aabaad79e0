/**
 * The read half of a get: an entry's ciphertext, stripe by stripe, from the
 * holders of its groups. Each window of stripes is asked of k + 1 holders
 * (data shards first: they decode nothing), and of one more when the window
 * is slower than windows usually are; the first k answers are used and the
 * others cancelled, so a slow holder never sets the pace, and a get moves
 * (k + 1) / k of the entry, not (k + 2) / k. A holder that fails is replaced
 * by the next. Windows are fetched ahead, a bounded number of bytes at a time.
 */
import b4a from 'b4a'
import { ScitError } from '../lib/errors'
import { ErasureCode } from '../lib/archive/erasure'
import { BlockVerifier } from '../lib/archive/merkle'
import { blockOf, BLOCK } from '../lib/archive/layout'
import { MAX_FETCH_BLOCKS } from '../lib/archive/messages'
import type { Entry, Segment } from '../lib/archive/catalog'
import type { ShardChannel } from '../lib/archive/shard-channel'

/** Bytes one holder sends per answer (small answers keep the connections' pipes full), and in flight across a get. */
const ANSWER_BYTES = 512 * 1024
const AHEAD_BYTES = 16 * 1024 * 1024
/** Holders asked beyond k at once, and once a window is slow. */
const SPARE = 1
const EXTRA = 2
/** A window slower than this many times the usual asks the last extra holder (ms: at least, and before any window ended). */
const HEDGE_FACTOR = 2
const HEDGE_MIN = 250
const HEDGE_FIRST = 2000

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
  /** Windows fetched at once. */
  private readonly ahead: number
  /** A window's usual time to its k-th answer (ms, moving average); 0 before the first. */
  private usual = 0

  constructor(
    private readonly entry: Entry,
    private readonly opts: ReadOptions
  ) {
    const block = Math.max(BLOCK, ...entry.segments.map((s) => s.block))
    this.codec = new ErasureCode(opts.k, opts.m, block)
    const window = opts.k * Math.min(MAX_FETCH_BLOCKS, Math.max(1, ANSWER_BYTES / block)) * block
    this.ahead = Math.max(2, Math.min(16, Math.floor(AHEAD_BYTES / window)))
  }

  /** The entry's ciphertext, in order, padding removed. */
  async *bytes(): AsyncGenerator<Buffer> {
    const windows = this.windows()
    const ahead: Array<Promise<Buffer[][]>> = []
    let next = 0
    const launch = (): void => {
      while (ahead.length < this.ahead && next < windows.length) {
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
    this.entry.segments.forEach((seg, segment) => {
      const per = Math.max(1, Math.min(MAX_FETCH_BLOCKS, Math.floor(ANSWER_BYTES / seg.block)))
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
    let asked = k + SPARE
    const aborts: AbortController[] = []
    const errors: string[] = []
    const began = Date.now()
    let hedge: NodeJS.Timeout | null = null
    await new Promise<void>((resolve) => {
      let running = 0
      const more = (): void => {
        while (ok + running < asked && tried < order.length && ok < k) {
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
      hedge = setTimeout(
        () => {
          asked = k + EXTRA
          more()
        },
        this.usual === 0 ? HEDGE_FIRST : Math.max(HEDGE_MIN, HEDGE_FACTOR * this.usual)
      )
      more()
    })
    if (hedge !== null) clearTimeout(hedge)
    for (const a of aborts) a.abort()
    if (ok < k)
      throw new ScitError(
        'UNAVAILABLE',
        `group ${seg.group}: only ${ok} of the ${k} holders needed answered for stripes ${w.start}-${w.end - 1}${errors.length ? ` (${errors.slice(0, 3).join('; ')})` : ''}`
      )
    const took = Date.now() - began
    this.usual = this.usual === 0 ? took : 0.8 * this.usual + 0.2 * took
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
