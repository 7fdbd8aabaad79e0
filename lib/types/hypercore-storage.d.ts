// Thin declarations for hypercore-storage 3: what lib/store.ts passes through to RocksDB.
declare module 'hypercore-storage' {
  export interface CoreStorageOptions {
    /** Bytes of RocksDB memtable per write buffer (two may be in use). */
    writeBufferSize?: number
    readOnly?: boolean
    /** RocksDB's WALRecoveryMode (rocksdb-native constants.walRecoveryMode): 0 tolerates only an incomplete tail. */
    walRecoveryMode?: number
  }
  class CoreStorage {
    constructor(dir: string, opts?: CoreStorageOptions)
  }
  export default CoreStorage
}
