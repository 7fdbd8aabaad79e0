declare module 'hyperswarm' {
  import { EventEmitter } from 'events'
  import { Duplex } from 'stream'
  import DHT, { KeyPair } from 'hyperdht'
  export interface PeerInfo {
    publicKey: Buffer
    topics: Buffer[]
    client: boolean
    /** Failed dials in a row; past 3 it is not dialled again until a lookup finds it. */
    attempts: number
    /** joinPeer named it. */
    explicit: boolean
  }
  export interface SwarmConnection extends Duplex {
    remotePublicKey: Buffer
    publicKey: Buffer
    rawStream?: unknown
  }
  export interface Discovery {
    flushed(): Promise<void>
    refresh(opts?: object): Promise<void>
    destroy(): Promise<void>
  }
  class Hyperswarm extends EventEmitter {
    constructor(opts?: {
      dht?: DHT
      keyPair?: KeyPair
      bootstrap?: unknown[]
      maxPeers?: number
      maxParallel?: number
      firewall?: (remotePublicKey: Buffer) => boolean
      /** ms before the 1st, 2nd, 3rd retry of a failed dial, and of an explicit peer's later ones. */
      backoffs?: number[]
      jitter?: number
    })
    dht: DHT
    keyPair: KeyPair
    connections: Set<SwarmConnection>
    peers: Map<string, PeerInfo>
    /** Dials in progress. */
    connecting: number
    destroyed: boolean
    join(topic: Buffer, opts?: { server?: boolean; client?: boolean }): Discovery
    leave(topic: Buffer): Promise<void>
    joinPeer(publicKey: Buffer): void
    leavePeer(publicKey: Buffer): void
    flush(): Promise<void>
    /** Every connection destroyed, no discovery nor dialling until resume(). */
    suspend(): Promise<void>
    resume(): Promise<void>
    destroy(opts?: { force?: boolean }): Promise<void>
    on(event: 'connection', fn: (conn: SwarmConnection, info: PeerInfo) => void): this
    on(event: string, fn: (...args: any[]) => void): this
  }
  export default Hyperswarm
}
