// Thin declarations for hyperdht: the calls scit uses (presence records, testnet).
declare module 'hyperdht' {
  import { EventEmitter } from 'events'
  export interface KeyPair { publicKey: Buffer; secretKey: Buffer }
  export interface Bootstrap { host: string; port: number }
  export interface DHTOptions {
    bootstrap?: Array<string | Bootstrap>
    keyPair?: KeyPair
    port?: number
    host?: string
    ephemeral?: boolean
    firewalled?: boolean
  }
  export interface LookupReply { peers: Array<{ publicKey: Buffer }> }
  export interface MutableGetResult { seq: number; value: Buffer; signature: Buffer; from: { host: string; port: number } }
  class DHT extends EventEmitter {
    constructor(opts?: DHTOptions)
    static keyPair(seed?: Buffer): KeyPair
    readonly destroyed: boolean
    /** false once the node knows it is reachable (or was told so: `firewalled: false`). */
    readonly firewalled: boolean
    defaultKeyPair: KeyPair
    listening: Set<{ close(): Promise<void> }>
    ready(): Promise<void>
    fullyBootstrapped(): Promise<void>
    address(): { host: string; port: number }
    mutablePut(keyPair: KeyPair, value: Buffer, opts?: { seq?: number }): Promise<{ publicKey: Buffer; seq: number; signature: Buffer }>
    mutableGet(publicKey: Buffer, opts?: { seq?: number; latest?: boolean }): Promise<MutableGetResult | null>
    /** The peers announced on a topic, as a stream of query replies (destroy it to stop early). */
    lookup(topic: Buffer, opts?: object): AsyncIterable<LookupReply> & { destroy(err?: Error): void }
    destroy(opts?: { force?: boolean }): Promise<void>
  }
  export default DHT
}
declare module 'hyperdht/testnet' {
  import DHT, { Bootstrap } from 'hyperdht'
  interface Testnet {
    nodes: DHT[]
    bootstrap: Bootstrap[]
    createNode(opts?: object): DHT
    destroy(): Promise<void>
  }
  function createTestnet(size?: number, opts?: { host?: string; port?: number; teardown?: (fn: () => Promise<void>, opts?: object) => void }): Promise<Testnet>
  export = createTestnet
}
