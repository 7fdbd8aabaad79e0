// Thin declarations for hypercore 11: the calls scit uses.
declare module 'hypercore' {
  import { EventEmitter } from 'events'
  import { Readable } from 'stream'
  export interface KeyPair {
    publicKey: Buffer
    secretKey: Buffer | null
  }
  export interface GetOptions {
    wait?: boolean
    timeout?: number
    valueEncoding?: unknown
  }
  export interface ReadStreamOptions {
    start?: number
    end?: number
    live?: boolean
    snapshot?: boolean
  }
  export interface TreeNode {
    index: number
    size: number
    hash: Buffer
  }
  /** core.proof() requests (README "core.proof"): a block with the tree nodes the asker lacks, and/or an upgrade to a length. */
  export interface ProofRequest {
    block?: { index: number; nodes: number }
    upgrade?: { start: number; length: number }
  }
  /** A settled TreeProof: `block.nodes` lead from the block up to its root, `upgrade.nodes` are the other roots at `upgrade.length`. */
  export interface TreeProof {
    fork: number
    block: { index: number; value: Buffer | null; nodes: TreeNode[] } | null
    upgrade: {
      start: number
      length: number
      nodes: TreeNode[]
      additionalNodes: TreeNode[]
      signature: Buffer | null
    } | null
  }
  /** A replicating peer: the blocks it told us it holds (from the start, and each one beyond). */
  export interface Peer {
    readonly remotePublicKey: Buffer
    readonly remoteContiguousLength: number
    readonly remoteLength: number
    readonly remoteBitfield: { get(index: number): boolean }
  }
  /** Who signs the core (hypercore checks the key is this manifest's hash). */
  export interface Manifest {
    quorum: number
    signers: Array<{ publicKey: Buffer }>
  }
  class Hypercore extends EventEmitter {
    constructor(storage: unknown, key?: Buffer | null, opts?: object)
    static key(manifest: Buffer | object): Buffer
    static discoveryKey(key: Buffer): Buffer
    readonly key: Buffer
    readonly discoveryKey: Buffer
    readonly id: string
    readonly length: number
    readonly contiguousLength: number
    readonly byteLength: number
    readonly fork: number
    readonly writable: boolean
    readonly readable: boolean
    readonly closed: boolean
    readonly opened: boolean
    /** The peers replicating this core: who they are and how much of it they hold. */
    readonly peers: Peer[]
    readonly manifest: Manifest | null
    keyPair: KeyPair | null
    ready(): Promise<void>
    close(): Promise<void>
    /** Another handle on the same core; closing it ends only its own pending reads. */
    session(opts?: object): Hypercore
    append(block: Buffer | Buffer[]): Promise<{ length: number; byteLength: number }>
    get(index: number, opts?: GetOptions): Promise<Buffer | null>
    has(start: number, end?: number): Promise<boolean>
    update(opts?: { wait?: boolean }): Promise<boolean>
    setUserData(key: string, value: Buffer | null): Promise<void>
    getUserData(key: string): Promise<Buffer | null>
    seek(byteOffset: number, opts?: object): Promise<[number, number]>
    treeHash(length?: number): Promise<Buffer>
    proof(opts: ProofRequest): Promise<TreeProof>
    download(range?: { start?: number; end?: number; blocks?: number[]; linear?: boolean }): {
      done(): Promise<void>
      destroy(): void
    }
    clear(start: number, end?: number, opts?: object): Promise<unknown>
    truncate(newLength?: number, opts?: object): Promise<void>
    createReadStream(opts?: ReadStreamOptions): Readable
    replicate(isInitiatorOrStream: boolean | unknown, opts?: object): unknown
    findingPeers(): () => void
    info(opts?: object): Promise<{ length: number; contiguousLength: number; byteLength: number }>
    on(event: 'append' | 'close' | 'ready', fn: () => void): this
    on(event: 'peer-add' | 'peer-remove', fn: (peer: unknown) => void): this
    on(event: 'upload' | 'download', fn: (index: number, byteLength: number) => void): this
    on(event: string, fn: (...args: any[]) => void): this
  }
  export default Hypercore
}
