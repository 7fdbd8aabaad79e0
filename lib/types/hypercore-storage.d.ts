// Thin declarations for hypercore-storage 3: what lib/store.ts passes through to RocksDB.
declare module 'hypercore-storage' {
  export interface CoreStorageOptions {
    /** Bytes of RocksDB memtable per write buffer (two may be in use). */
    writeBufferSize?: number
    /** RocksDB's block cache (rocksdb-native's fixed 32 MiB LRU) on or off. */
    blockCache?: boolean
    /** Index and filter blocks in the block cache (true), or held by each table reader (needed without one). */
    tableCacheIndexAndFilterBlocks?: boolean
    readOnly?: boolean
    /** RocksDB's WALRecoveryMode (rocksdb-native constants.walRecoveryMode): 0 tolerates only an incomplete tail. */
    walRecoveryMode?: number
  }
  class CoreStorage {
    constructor(dir: string, opts?: CoreStorageOptions)
  }
  export default CoreStorage
}
