/**
 * A Corestore whose memory does not grow with what it holds. Its defaults do: Hyperbee keeps up to 65,536 tree
 * nodes per bee (a node is a few KiB with its keys and values), and RocksDB two 64 MiB memtables. Corestore does
 * not pass storage options on, so the storage is built here and handed to it (Corestore takes a built one as is).
 */
import fs from 'fs'
import path from 'path'
import Corestore from 'corestore'
import type Hypercore from 'hypercore'
import CoreStorage from 'hypercore-storage'
import Rache from 'rache'
import { ScitError, moveAside } from './errors'
import { writeDurably } from './datadir'

export interface StoreLimits {
  /** Hyperbee tree nodes kept in memory, shared by every bee of the store. */
  cacheNodes?: number
  /** Bytes of one RocksDB memtable. */
  writeBuffer?: number
  /**
   * RocksDB's block cache: its fixed 32 MiB LRU (rocksdb-native takes no size) or none, when reads of data blocks
   * go to the OS page cache (which is not this process's RSS) and index and filter blocks stay with their tables.
   */
  blockCache?: boolean
}

/**
 * What a market indexer measured well with, at 10,000 steps of the market simulation (10,000 authors): 32,768 bee
 * nodes cut RocksDB reads per engine run from 25-31 to 20-23 for 10-15 MiB more RSS than 8,192; the block cache held
 * 31 MiB of RSS, and without it the history cost 3-4 % more CPU per op, within that run's noise (bench knobs
 * `CACHE_NODES`, `BLOCK_CACHE`).
 */
export const STORE_LIMITS: Required<StoreLimits> = {
  cacheNodes: 32768,
  writeBuffer: 8 * 1024 * 1024,
  blockCache: false
}

/** A follower (a node, a bot) reads little of the view: a small node cache, half the memtable. */
export const FOLLOWER_LIMITS: StoreLimits = { cacheNodes: 4096, writeBuffer: 4 * 1024 * 1024 }

/**
 * A node follows the view like a bot, and also holds archive shards: 64 KiB blocks written in bulk. With a 4 MiB
 * memtable those flush (and their blob files compact) four times as often: 512 MiB stored cost 1.5-1.8× the CPU
 * per MiB (`ARCHIVE_NODES=0 npm run bench -- archive`); 16 MiB costs at most 24 MiB more RSS while a node writes.
 */
export const NODE_LIMITS: StoreLimits = { ...FOLLOWER_LIMITS, writeBuffer: 16 * 1024 * 1024 }

/**
 * RocksDB's kTolerateCorruptedTailRecords (rocksdb-native constants.walRecoveryMode): a write-ahead log damaged
 * mid-file fails the open (EIO "checksum mismatch": CORRUPT, lib/errors.ts storeDamage). Its default, point-in-time
 * recovery, opened it and silently dropped every write from the damage on: a node's own signed cores lost blocks
 * its peers already held, and it served and appended on the shorter copies (the soak, seed 27). An incomplete last
 * record (a process killed in the middle of a write) is still tolerated: those writes never returned.
 */
const WAL_RECOVERY = 0

export function openStore(dir: string, limits: StoreLimits = {}): Corestore {
  const { cacheNodes, writeBuffer, blockCache } = { ...STORE_LIMITS, ...limits }
  // Without a block cache, RocksDB keeps index and filter blocks with their table readers (it refuses to cache them).
  const storage = new CoreStorage(dir, {
    writeBufferSize: writeBuffer,
    blockCache,
    tableCacheIndexAndFilterBlocks: blockCache,
    walRecoveryMode: WAL_RECOVERY
  })
  return new Corestore(storage, {
    globalCache: new Rache({ maxSize: cacheNodes })
  })
}

/** In the store's own dir: a store moved aside (CORRUPT's advice) takes its marks with it. */
export const MARKS_FILE = 'scit-marks.json'
/** Marks are written at most this often while cores grow (and at close): a mark may lag its core, never lead it. */
const MARKS_EVERY = 1000
/** A core of the store's own that grows by a block at each open: any store that lost a window of writes spanning an open shows it. */
const OPENS_CORE = 'scit/store-opens'

/** What CoreMarks reads of a core it marks: a hypercore, or an Autobase's writer core. */
export interface Appending {
  readonly key: Buffer
  readonly length: number
  on(event: 'append' | 'truncate', fn: () => void): unknown
  off(event: 'append' | 'truncate', fn: () => void): unknown
}

interface Mark {
  length: number
  /** Never cleared: its tree and blocks must all be there (hypercore's audit), not only its length. */
  whole: boolean
}
interface Audit {
  audit(opts: { dryRun: true }): Promise<{
    corrupt: boolean
    droppedTreeNodes: number
    droppedBlocks: number
    droppedBits: number
  } | null>
}

/**
 * What RocksDB cannot lose silently: the lengths this process's own append-only cores reached. RocksDB opens some
 * damaged stores without an error on an older state: a MANIFEST cut short on older tables (the tables flushed after
 * the lost edits are deleted, the write-ahead log's newer writes kept: a core's length survives, its middle does
 * not), a write-ahead log cut short on its prefix. A node serving and appending on such a copy of its signed cores
 * forks them (the soak, seed 27, run 8). So: a core shorter than its mark, or a whole core missing a block or tree
 * node, refuses the store (CORRUPT). Never for a core that may truncate (an Autobase view, a state core rolled back).
 * A core that lost its middle but not its length (the MANIFEST case) is seen by the audit of a whole core: each open
 * appends to one (OPENS_CORE), so the writes of a lost window that spans an open (run 8: the whole first run of the
 * node) are seen whatever cores they were of, its peers' copies included.
 */
export class CoreMarks {
  private readonly marks = new Map<string, Mark>()
  private readonly tracked = new Map<Appending, () => void>()
  private timer: NodeJS.Timeout | null = null
  private opens: Hypercore | null = null

  private constructor(private readonly file: string) {}

  /** The marks of the store in `dir`, each core of it checked against its mark first. */
  static async check(dir: string, store: Corestore): Promise<CoreMarks> {
    const marks = new CoreMarks(path.join(dir, MARKS_FILE))
    let saved: Record<string, Mark> = {}
    try {
      saved = JSON.parse(fs.readFileSync(marks.file, 'utf8')) as Record<string, Mark>
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        marks.damaged(`${MARKS_FILE} unreadable`)
    }
    const valid = (k: string, m: Mark | null): boolean =>
      /^[0-9a-f]{64}$/.test(k) && Number.isSafeInteger(m?.length) && typeof m?.whole === 'boolean'
    if (
      typeof saved !== 'object' ||
      saved === null ||
      !Object.entries(saved).every(([k, m]) => valid(k, m))
    )
      marks.damaged(`${MARKS_FILE} is not what scit writes`)
    for (const [key, mark] of Object.entries(saved)) {
      const core = store.get({ key: Buffer.from(key, 'hex') })
      try {
        await core.ready()
        if (core.length < mark.length)
          marks.damaged(
            `RocksDB opened it on an older state: core ${key.slice(0, 8)} has ${core.length} blocks of the ${mark.length} it had`
          )
        const audit = mark.whole
          ? await (core as unknown as { core: Audit }).core.audit({ dryRun: true })
          : null
        const lost = audit === null ? 0 : audit.droppedBits + audit.droppedBlocks
        if (audit !== null && (audit.corrupt || lost + audit.droppedTreeNodes > 0))
          marks.damaged(
            `RocksDB opened it on an older state: core ${key.slice(0, 8)} of ${core.length} blocks lost ${audit.corrupt ? 'its roots' : `${lost} blocks and ${audit.droppedTreeNodes} tree nodes`}`
          )
      } finally {
        await core.close()
      }
      marks.marks.set(key, mark)
    }
    const opens = store.get({ name: OPENS_CORE })
    marks.opens = opens
    await opens.ready()
    marks.track(opens, { whole: true })
    await opens.append(Buffer.from(new Date().toISOString()))
    return marks
  }

  private damaged(what: string): never {
    const store = path.dirname(this.file)
    throw new ScitError(
      'CORRUPT',
      `the store ${store} is damaged on disk (${what}): serving or appending on it would fork its signed cores. ${moveAside(store)}`
    )
  }

  /**
   * Mark `core` (ready, this process appends to it) as it grows, from the length it has now: `check` found it at its
   * mark or past it, and what this process did since is its own (a contract core drops a file a crash cut short,
   * bot/notary.ts). A truncate of its own lowers the mark with the core.
   */
  track(core: Appending, opts: { whole?: boolean } = {}): void {
    const key = core.key.toString('hex')
    const mark = (length: number): void => {
      this.marks.set(key, { length, whole: opts.whole === true })
      if (this.timer !== null) return
      this.timer = setTimeout(() => this.write(), MARKS_EVERY)
      this.timer.unref()
    }
    const onappend = (): void => mark(Math.max(this.marks.get(key)?.length ?? 0, core.length))
    const ontruncate = (): void => mark(core.length)
    core.on('append', onappend)
    core.on('truncate', ontruncate)
    this.tracked.set(core, () => {
      core.off('append', onappend)
      core.off('truncate', ontruncate)
    })
    mark(core.length)
  }

  /** Written now, then no more: call after the cores' last appends (their close). */
  async close(): Promise<void> {
    for (const off of this.tracked.values()) off()
    this.tracked.clear()
    if (this.timer !== null) this.write()
    await this.opens?.close()
  }

  /** Atomically: a crash leaves the old marks or the new, never half of them. One not written only lags. */
  private write(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    try {
      writeDurably(this.file, JSON.stringify(Object.fromEntries(this.marks)))
    } catch {}
  }
}
