/**
 * A Corestore whose memory does not grow with what it holds. Its defaults do: Hyperbee keeps up to 65,536 tree
 * nodes per bee (a node is a few KiB with its keys and values), and RocksDB two 64 MiB memtables. Corestore does
 * not pass storage options on, so the storage is built here and handed to it (Corestore takes a built one as is).
 */
import Corestore from 'corestore'
import CoreStorage from 'hypercore-storage'
import Rache from 'rache'

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
