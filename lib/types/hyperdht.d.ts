// Thin declarations for hyperdht: the calls scit uses (presence records, service servers and streams, testnet).
declare module 'hyperdht' {
  import { EventEmitter } from 'events'
  import { Duplex } from 'stream'
  export interface KeyPair {
    publicKey: Buffer
    secretKey: Buffer
  }
  export interface Bootstrap {
    host: string
    port: number
  }
  export interface DHTOptions {
    bootstrap?: Array<string | Bootstrap>
    keyPair?: KeyPair
    /** One port, or a [from, to) range to try. */
    port?: number | [number, number]
    /** false: fail when the port is taken instead of binding another. */
    anyPort?: boolean
    host?: string
    ephemeral?: boolean
    firewalled?: boolean
  }
  export interface LookupReply {
    peers: Array<{ publicKey: Buffer; relayAddresses: Array<{ host: string; port: number }> }>
  }
  /** A running query (lookup, announce): iterate its replies, or wait for its end. */
  export interface Query extends AsyncIterable<LookupReply> {
    finished(): Promise<void>
    destroy(err?: Error): void
  }
  /** An end-to-end encrypted stream (a @hyperswarm/secret-stream NoiseSecretStream). */
  export interface SecretStream extends Duplex {
    readonly publicKey: Buffer
    readonly remotePublicKey: Buffer
    opened: Promise<boolean>
    /** `len` bytes to fill and write: encrypted in place, not copied again (as protomux writes). */
    alloc(len: number): Buffer
  }
  export interface ServerOptions {
    /** Return true to refuse the handshake of `remotePublicKey`; nothing reaches the server then. */
    firewall?: (
      remotePublicKey: Buffer,
      remotePayload: unknown,
      clientAddress: unknown
    ) => boolean | Promise<boolean>
  }
  export class Server extends EventEmitter {
    readonly publicKey: Buffer
    readonly relayAddresses: Array<{ host: string; port: number }>
    listen(keyPair: KeyPair): Promise<void>
    close(): Promise<void>
  }
  export interface MutableGetResult {
    seq: number
    value: Buffer
    signature: Buffer
    from: { host: string; port: number }
  }
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
    mutablePut(
      keyPair: KeyPair,
      value: Buffer,
      opts?: { seq?: number }
    ): Promise<{ publicKey: Buffer; seq: number; signature: Buffer }>
    mutableGet(
      publicKey: Buffer,
      opts?: { seq?: number; latest?: boolean }
    ): Promise<MutableGetResult | null>
    /** The peers announced on a topic, as a stream of query replies (destroy it to stop early). */
    lookup(topic: Buffer, opts?: object): Query
    /** Announce `keyPair.publicKey` on `topic` (records expire: announce again within ~20 min). */
    announce(
      topic: Buffer,
      keyPair: KeyPair,
      relayAddresses?: Array<{ host: string; port: number }>,
      opts?: object
    ): Query
    unannounce(topic: Buffer, keyPair: KeyPair, opts?: object): Promise<void>
    createServer(opts: ServerOptions, onconnection?: (conn: SecretStream) => void): Server
    connect(remotePublicKey: Buffer, opts?: { keyPair?: KeyPair }): SecretStream
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
  function createTestnet(
    size?: number,
    opts?: {
      host?: string
      port?: number
      teardown?: (fn: () => Promise<void>, opts?: object) => void
    }
  ): Promise<Testnet>
  export = createTestnet
}
