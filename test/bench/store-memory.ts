/**
 * Who holds a process's memory, for the market benches: V8's heap and external buffers, and the store's own
 * holders (RocksDB memtables, block cache, table readers; Hyperbee's node cache, lib/store.ts). Read through
 * fields the thin declarations in lib/types/ do not name: a bench's look, not an API.
 */
import fs from 'fs'
import path from 'path'
import type Corestore from 'corestore'

export interface MemorySplit {
  rss: number
  heapUsed: number
  heapTotal: number
  /** Memory V8 knows of outside its heap (Buffers' backing stores among it). */
  external: number
  arrayBuffers: number
  /** RocksDB, bytes: memtables (all column families), block cache in use and of it pinned, table readers. */
  memtables: number
  blockCache: number
  pinned: number
  tableReaders: number
  /** Hyperbee tree nodes in the store's shared cache. */
  cacheNodes: number
  /** RocksDB reads so far: keys, and batches (one round trip to its thread pool each). */
  gets: number
  readBatches: number
  /** Bytes of the store on disk. */
  disk: number
}

interface RocksLike {
  getProperty(name: string): Promise<string | null>
  _state?: { stats?: { gets: number; readBatches: number } }
}
interface StorageLike {
  /** The RocksDB session of hypercore-storage's column family (where a store's data goes), and of the database. */
  db?: RocksLike
  rocks?: RocksLike
}

export async function memorySplit(store: Corestore, dir: string): Promise<MemorySplit> {
  const m = process.memoryUsage()
  const s = store as unknown as { storage?: StorageLike; globalCache?: { globalSize?: number } }
  const rocks = s.storage?.rocks
  const column = s.storage?.db
  const prop = async (name: string): Promise<number> =>
    column === undefined ? 0 : Number((await column.getProperty(name).catch(() => null)) ?? 0)
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    memtables: await prop('rocksdb.cur-size-all-mem-tables'),
    blockCache: await prop('rocksdb.block-cache-usage'),
    pinned: await prop('rocksdb.block-cache-pinned-usage'),
    tableReaders: await prop('rocksdb.estimate-table-readers-mem'),
    cacheNodes: s.globalCache?.globalSize ?? 0,
    gets: rocks?._state?.stats?.gets ?? 0,
    readBatches: rocks?._state?.stats?.readBatches ?? 0,
    disk: diskBytes(dir)
  }
}

function diskBytes(dir: string): number {
  let n = 0
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) n += diskBytes(p)
    else if (e.isFile()) n += fs.statSync(p).size
  }
  return n
}

const mib = (n: number): string => (n / 2 ** 20).toFixed(n < 10 * 2 ** 20 ? 1 : 0)

/** One line: MiB per holder. */
export function formatSplit(m: MemorySplit): string {
  return (
    `rss ${mib(m.rss)} MiB: heap ${mib(m.heapUsed)}/${mib(m.heapTotal)}, external ${mib(m.external)} (buffers ${mib(m.arrayBuffers)}), ` +
    `rocksdb memtables ${mib(m.memtables)} block cache ${mib(m.blockCache)} (pinned ${mib(m.pinned)}) table readers ${mib(m.tableReaders)}, ` +
    `bee cache ${m.cacheNodes} nodes; disk ${mib(m.disk)} MiB; rocksdb reads ${m.gets} in ${m.readBatches} batches`
  )
}
