// Thin declarations for hypercore-storage 3: what lib/store.ts passes through to RocksDB.
declare module 'hypercore-storage' {
  export interface CoreStorageOptions {
    /** Bytes of RocksDB memtable per write buffer (two may be in use). */
    writeBufferSize?: number
    readOnly?: boolean
  }
  class CoreStorage {
    constructor(dir: string, opts?: CoreStorageOptions)
  }
  export default CoreStorage
}
