/**
 * Rebuilding a shard from the others (docs/ARCHITECTURE.md "Archives"): the node fetches
 * the same stripes from k other holders of its group, checks each block
 * against that holder's signed head (its Merkle path), decodes its own block
 * of every stripe and appends it. The bot moves no byte of it. The rebuilt
 * core is checked against this shard's signed head before anything is
 * served from it (archive-keeper.ts).
 */
import { setMaxListeners } from 'events'
import b4a from 'b4a'
import type Hypercore from 'hypercore'
import { ScitError } from '../lib/errors'
import { ErasureCode, MAX_SHARDS } from '../lib/archive/erasure'
import { BlockVerifier } from '../lib/archive/merkle'
import { blockOf } from '../lib/archive/layout'
import type { Catalog, Place, Segment } from '../lib/archive/catalog'
import { MAX_FETCH_BLOCKS, type ShardRef } from '../lib/archive/messages'
import type { ShardChannel } from '../lib/archive/shard-channel'

/** Stripes fetched at once: k blocks of each are held until decoded (16 MiB at most). */
const WINDOW_BYTES = 16 * 1024 * 1024
const REACH_TIMEOUT = 10_000

export interface Sources {
  /** A channel to the node of `trade`, or null when it is not reached in `timeout` ms. */
  reach(trade: string, timeout: number): Promise<ShardChannel | null>
}

interface Source {
  shard: number
  channel: ShardChannel
  verifier: BlockVerifier | null
}

export class Rebuilder {
  busy = false
  private readonly abort = new AbortController()
  private codec: ErasureCode | null = null

  constructor(private readonly sources: Sources) {
    // one fetch per source holder waits on it at once: up to k, past Node's warning at 10
    setMaxListeners(MAX_SHARDS, this.abort.signal)
  }

  stop(): void {
    this.abort.abort()
  }

  /** Append to `core` (from where it stops) the blocks of shard `place.shard` of segment `seg`. */
  async rebuild(
    catalog: Catalog,
    place: Place,
    ref: ShardRef,
    seg: Segment,
    core: Hypercore
  ): Promise<void> {
    const { data: k, parity: m } = catalog.code
    const heads = seg.heads
    if (heads === null) throw new ScitError('NOT_FOUND', 'the segment is not committed yet')
    this.busy = true
    try {
      const holders = catalog.holders[place.group]
      const found = await Promise.all(
        holders.map(async (trade, shard): Promise<Source | null> =>
          shard === place.shard || trade === null
            ? null
            : await this.sources
                .reach(trade, REACH_TIMEOUT)
                .then((channel) => (channel === null ? null : { shard, channel, verifier: null }))
        )
      )
      const spare = found.filter((s): s is Source => s !== null)
      if (spare.length < k)
        throw new ScitError(
          'NOT_FOUND',
          `only ${spare.length} of the ${k} other holders needed answer in group ${place.group}`
        )
      const use = spare.splice(0, k)
      if (this.codec === null || this.codec.k !== k || this.codec.maxBlock < seg.block)
        this.codec = new ErasureCode(k, m, seg.block)
      const window = Math.max(
        1,
        Math.min(MAX_FETCH_BLOCKS, Math.floor(WINDOW_BYTES / (k * seg.block)))
      )
      for (let s = core.length; s < seg.length; s += window) {
        if (this.abort.signal.aborted) throw new ScitError('CLOSED', 'the keeper stopped')
        const end = Math.min(seg.length, s + window)
        const got = await Promise.all(
          use.map((_, i) => this.read(use, i, spare, ref, seg, heads, s, end))
        )
        const order = use.map((x) => x.shard)
        const out: Buffer[] = []
        for (let stripe = s; stripe < end; stripe++) {
          const shards = this.codec.shards(blockOf(seg, k, stripe))
          order.forEach((shard, i) => shards[shard].set(got[i][stripe - s]))
          this.codec.reconstruct(order, [place.shard])
          out.push(b4a.from(shards[place.shard]))
        }
        await core.append(out)
      }
    } finally {
      this.busy = false
    }
  }

  /** Blocks [start, end) from source `i`, each checked; a source that fails is swapped for a spare. */
  private async read(
    use: Source[],
    i: number,
    spare: Source[],
    ref: ShardRef,
    seg: Segment,
    heads: Buffer[],
    start: number,
    end: number
  ): Promise<Buffer[]> {
    for (;;) {
      const src = use[i]
      try {
        const r = await src.channel.fetch({ ...ref, shard: src.shard }, start, end, {
          proveAt: seg.length,
          signal: this.abort.signal
        })
        src.verifier ??= BlockVerifier.from(
          { length: seg.length, treeHash: heads[src.shard] },
          r.roots
        )
        const v = src.verifier
        if (v === null || r.blocks.length !== end - start) throw new Error('not the signed tree')
        r.blocks.forEach((b, j) => {
          if (!v.verify(start + j, b, r.paths[j] ?? []))
            throw new Error(`block ${start + j} does not verify`)
        })
        return r.blocks
      } catch (err) {
        if (this.abort.signal.aborted) throw new ScitError('CLOSED', 'the keeper stopped')
        const next = spare.shift()
        if (next === undefined)
          throw new ScitError(
            'NOT_FOUND',
            `holder of shard ${src.shard} failed (${(err as Error).message}) and no other holder is left`
          )
        // other orders change which shards decode: the caller reads `use` after all reads settle
        use[i] = next
      }
    }
  }
}
