declare module 'corestore' {
  import { EventEmitter } from 'events'
  import Hypercore from 'hypercore'
  export interface GetOptions {
    name?: string
    key?: Buffer
    keyPair?: { publicKey: Buffer; secretKey: Buffer | null }
    exclusive?: boolean
    valueEncoding?: unknown
    active?: boolean
  }
  class Corestore extends EventEmitter {
    constructor(
      storage: string | unknown,
      opts?: { primaryKey?: Buffer; writable?: boolean; globalCache?: unknown }
    )
    readonly opened: boolean
    readonly closed: boolean
    ready(): Promise<void>
    close(): Promise<void>
    get(opts: GetOptions | Buffer): Hypercore
    namespace(name: string | Buffer): Corestore
    session(opts?: object): Corestore
    replicate(isInitiatorOrStream: boolean | unknown, opts?: object): unknown
    createKeyPair(name: string): Promise<{ publicKey: Buffer; secretKey: Buffer }>
    on(event: 'core-open' | 'core-close', fn: (core: Hypercore) => void): this
    on(event: string, fn: (...args: any[]) => void): this
  }
  export default Corestore
}
