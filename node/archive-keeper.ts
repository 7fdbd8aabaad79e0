/**
 * One archive lease on a node (docs/ARCHITECTURE.md "Archives"): the shard this node holds
 * of one group, one core of its own per segment. Blocks come from the bot
 * during a put, or are rebuilt from k other holders (archive-rebuild.ts) for
 * a segment committed while this node did not hold it (a repair, or a put it
 * missed). A segment counts as held once its core's tree hash is the one the
 * bot signed in the catalog; only then is it served and proved.
 */
import { EventEmitter } from 'events'
import b4a from 'b4a'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import { ScitError } from '../lib/errors'
import { formatSize } from '../lib/resources'
import { logger } from '../lib/log'
import { Catalog, shardId, Place, Segment } from '../lib/archive/catalog'
import {
  MAX_FETCH_BLOCKS,
  type ShardRef,
  type Store,
  type Fetch,
  type Fetched
} from '../lib/archive/messages'
import type { Held } from '../lib/archive/shard-channel'
import type { TreeNode } from '../lib/node-messages'
import { Rebuilder, Sources } from './archive-rebuild'
import safetyCatch from 'safety-catch'

const log = logger('node/archive')

export interface KeeperContext {
  store: Corestore
  contract: Buffer
  bot: Buffer
  trade: string
  /** Bytes the lease pays for. */
  limit: number
  /** Who else may fetch: the nodes of the contract's live holders. */
  mayFetch(key: Buffer): Promise<boolean>
  sources: Sources
}

interface Kept {
  ref: ShardRef
  core: Hypercore
  segment: Segment | null
  /** Its tree matches the signed head. */
  verified: boolean
  /** One write at a time, in order. */
  queue: Promise<unknown>
}

export class ShardKeeper extends EventEmitter {
  catalog: Catalog | null = null
  place: Place | null = null
  private readonly kept = new Map<string, Kept>()
  /** Shards of removed entries cleared since this keeper started. */
  private readonly dropped = new Set<string>()
  private readonly rebuilder: Rebuilder
  private stopped = false
  private wake: (() => void) | null = null
  private step = ''

  constructor(readonly ctx: KeeperContext) {
    super()
    this.rebuilder = new Rebuilder(ctx.sources)
  }

  /** The catalog as the contract says now: new segments to hold, removed ones to drop. */
  sync(catalog: Catalog): void {
    this.catalog = catalog
    this.place = catalog.placeOf(this.ctx.trade)
    this.wake?.()
  }

  /** Hold what the catalog assigns until detached; 'progress' says how far. Rejects on a lease too small. */
  async run(): Promise<void> {
    while (!this.stopped) {
      const woke = new Promise<void>((resolve) => {
        this.wake = resolve
      })
      try {
        await this.reconcile()
      } catch (err) {
        if (this.stopped) return
        log.warn('keeping the shard failed', { err: (err as Error).message })
        this.report(false, `${this.describe()}: ${(err as Error).message}; retrying`)
        setTimeout(() => this.wake?.(), 2000).unref()
      }
      if (this.stopped) return
      await woke
    }
  }

  private async reconcile(): Promise<void> {
    const { catalog, place } = this
    if (catalog === null || place === null)
      return this.report(false, 'waiting for its place in the catalog')
    for (const e of catalog.entries.values()) {
      for (let i = 0; i < e.segments.length; i++) {
        const seg = e.segments[i]
        if (seg.group !== place.group) continue
        const ref = this.ref(e.id, i)
        if (e.removed) {
          await this.drop(ref)
          continue
        }
        const k = await this.open(ref)
        k.segment = seg
        if (seg.heads !== null && !k.verified) await this.check(k)
      }
    }
    const missing = this.segments().filter((k) => k.segment?.heads && !k.verified)
    for (const k of missing) {
      if (this.stopped) return
      this.report(false, `rebuilding ${this.describe()}`)
      try {
        await this.rebuilder.rebuild(catalog, place, k.ref, k.segment as Segment, k.core)
        await this.check(k)
      } catch (err) {
        if (this.stopped) return
        log.warn('rebuild failed', { err: (err as Error).message })
        this.report(false, `rebuilding ${this.describe()}: ${(err as Error).message}; retrying`)
        setTimeout(() => this.wake?.(), 2000).unref()
        return
      }
    }
    this.report(
      this.segments().every((k) => k.verified || k.segment?.heads === null),
      this.describe()
    )
  }

  private segments(): Kept[] {
    return [...this.kept.values()]
  }

  private describe(): string {
    const all = this.segments().filter((k) => k.segment?.heads)
    const held = all.filter((k) => k.verified)
    const bytes = held.reduce((n, k) => n + k.core.byteLength, 0)
    const where = this.place ? `shard ${this.place.shard} of group ${this.place.group}` : 'no shard'
    return `holds ${held.length} of ${all.length} segments of ${where} (${formatSize(bytes)}, lease ${formatSize(this.ctx.limit)})`
  }

  private report(done: boolean, text: string): void {
    const step = `${done}:${text}`
    if (step === this.step) return
    this.step = step
    this.emit('progress', { done, text })
  }

  /** Its core's tree at the segment's length is the signed one: held. A longer or different one is cleared and rebuilt. */
  private async check(k: Kept): Promise<void> {
    const seg = k.segment
    if (seg === null || seg.heads === null) return
    if (k.core.length < seg.length) return
    const head = seg.heads[k.ref.shard]
    const ok = k.core.length === seg.length && b4a.equals(await k.core.treeHash(seg.length), head)
    if (ok) {
      k.verified = true
      return
    }
    log.warn('a shard does not match its signed head: clearing it to rebuild', {
      entry: b4a.toString(k.ref.entry, 'hex').slice(0, 8)
    })
    await k.core.truncate(0)
  }

  private ref(entry: Buffer, segment: number): ShardRef {
    const place = this.place as Place
    return { contract: this.ctx.contract, group: place.group, entry, segment, shard: place.shard }
  }

  private async open(ref: ShardRef): Promise<Kept> {
    const id = shardId(ref)
    const hex = b4a.toString(id, 'hex')
    let k = this.kept.get(hex)
    if (k === undefined) {
      const core = this.ctx.store.get({ name: `scit/archive/${hex}` })
      k = { ref, core, segment: null, verified: false, queue: core.ready() }
      this.kept.set(hex, k)
    }
    await k.queue
    return k
  }

  /** Delete a shard's blocks (hypercore 11.37's purge() is broken: its tree stays, a few hashes per block). */
  private async drop(ref: ShardRef): Promise<number> {
    const hex = b4a.toString(shardId(ref), 'hex')
    if (this.dropped.has(hex)) return 0
    const k = this.kept.get(hex) ?? (await this.open(ref))
    this.kept.delete(hex)
    this.dropped.add(hex)
    await k.queue.catch(safetyCatch)
    const bytes = k.core.byteLength
    if (k.core.length > 0) await k.core.clear(0, k.core.length)
    await k.core.close()
    return bytes
  }

  /** Bytes held across every segment. */
  bytes(): number {
    return this.segments().reduce((n, k) => n + k.core.byteLength, 0)
  }

  /** Blocks from the contract's bot, in order, within the lease. */
  async store(from: Buffer, m: Store): Promise<number> {
    if (!b4a.equals(from, this.ctx.bot))
      throw new ScitError('ACCESS', "only the contract's bot stores shards")
    if (this.place === null || m.group !== this.place.group || m.shard !== this.place.shard)
      throw new ScitError('NOT_FOUND', 'this lease holds another shard')
    const k = await this.open(m)
    const run = k.queue.then(async () => {
      const have = k.core.length
      if (m.start > have)
        throw new ScitError('INVALID_ARGUMENT', `blocks from ${m.start}: this holder has ${have}`)
      const fresh = m.blocks.slice(have - m.start)
      const size = fresh.reduce((n, b) => n + b.byteLength, 0)
      if (this.bytes() + size > this.ctx.limit)
        throw new ScitError(
          'CAPACITY',
          `the lease pays for ${formatSize(this.ctx.limit)}: this is more`
        )
      if (fresh.length > 0) await k.core.append(fresh)
      return k.core.length
    })
    k.queue = run.catch(safetyCatch)
    return run
  }

  /** Blocks of a held segment, to the bot or another holder; with Merkle paths when asked. */
  async fetch(from: Buffer, m: Fetch, signal: AbortSignal): Promise<Omit<Fetched, 'id' | 'error'>> {
    if (!b4a.equals(from, this.ctx.bot) && !(await this.ctx.mayFetch(from)))
      throw new ScitError('ACCESS', 'only the bot and the holders of this archive fetch its shards')
    // blocks the bot stored are served before the commit is checked here: readers check them themselves
    const k = this.kept.get(b4a.toString(shardId(m), 'hex'))
    if (k === undefined || (!k.verified && k.core.length < m.end))
      throw new ScitError('NOT_FOUND', 'this shard is not held here (yet)')
    if (m.end <= m.start || m.end > k.core.length || m.end - m.start > MAX_FETCH_BLOCKS)
      throw new ScitError(
        'INVALID_ARGUMENT',
        `blocks ${m.start}-${m.end} of ${k.core.length}, at most ${MAX_FETCH_BLOCKS}`
      )
    const paths: TreeNode[][] = []
    let roots: TreeNode[] = []
    const upgrade = m.proveAt > 0 ? { start: 0, length: m.proveAt } : null
    if (upgrade !== null) {
      if (m.proveAt > k.core.length)
        throw new ScitError('NOT_FOUND', `no tree at length ${m.proveAt}`)
      roots = (await k.core.proof({ upgrade })).upgrade?.nodes.map(plain) ?? []
    }
    // every block asked at once: the store reads them in one go, not one round trip each
    const range = Array.from({ length: m.end - m.start }, (_, i) => m.start + i)
    const blocks = await Promise.all(
      range.map(async (i) => {
        const value = signal.aborted ? null : await k.core.get(i, { wait: false })
        if (value === null && !signal.aborted)
          throw new ScitError('NOT_FOUND', `block ${i} is not held`)
        return value as Buffer
      })
    )
    if (upgrade !== null)
      for (const i of range) {
        if (signal.aborted) break
        const p = await k.core.proof({ block: { index: i, nodes: 0 }, upgrade })
        paths.push((p.block?.nodes ?? []).map(plain))
      }
    return { blocks, roots, paths }
  }

  summary(): Held {
    const all = this.segments().filter((k) => k.segment?.heads)
    const held = all.filter((k) => k.verified).length
    const rebuilding = this.rebuilder.busy ? 1 : 0
    return { held, missing: all.length - held - rebuilding, rebuilding, bytes: this.bytes() }
  }

  /** The core proved for a challenge naming `id`, once verified; null otherwise. */
  held(id: Buffer): Hypercore | null {
    const k = this.kept.get(b4a.toString(id, 'hex'))
    return k !== undefined && k.verified ? k.core : null
  }

  detach(): void {
    this.stopped = true
    this.rebuilder.stop()
    this.wake?.()
  }

  /** The lease is over: delete every shard. Resolves with the bytes freed. */
  async release(): Promise<number> {
    this.detach()
    let freed = 0
    for (const k of this.segments()) {
      try {
        freed += await this.drop(k.ref)
      } catch (err) {
        log.warn('could not delete a shard', { err: (err as Error).message })
      }
    }
    return freed
  }
}

function plain(n: TreeNode): TreeNode {
  return { index: n.index, size: n.size, hash: n.hash }
}
