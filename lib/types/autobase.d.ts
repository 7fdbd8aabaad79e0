// Thin declarations for autobase 7: the calls the market ledger uses.
declare module 'autobase' {
  import { EventEmitter } from 'events'
  import Hypercore from 'hypercore'
  import Corestore from 'corestore'

  /** One linearized block as `apply` sees it. */
  export interface ApplyNode<T> {
    value: T
    from: Hypercore // the writer core that carried the block
    length: number
    indexed: boolean
    optimistic: boolean
  }

  /** Side effects on the base itself, allowed only inside `apply`. */
  export interface Host {
    readonly key: Buffer
    addWriter(key: Buffer, opts?: { indexer?: boolean }): Promise<void>
    removeWriter(key: Buffer): Promise<void>
    ackWriter(key: Buffer): Promise<void>
    removeable(key: Buffer): boolean
    interrupt(reason?: unknown): void
  }

  /** A block of a writer core, as Autobase stores it (the oplog message). */
  export interface OplogEntry {
    node: { value: Buffer | null; batch: number; heads: unknown[] }
    optimistic: boolean
  }
  /** This peer's writer core; its blocks decode to oplog entries. */
  export interface LocalWriter {
    readonly key: Buffer
    readonly length: number
    get(index: number, opts?: { wait?: boolean }): Promise<OplogEntry | null>
    setUserData(key: string, value: Buffer | null): Promise<void>
    getUserData(key: string): Promise<Buffer | null>
    on(event: 'append' | 'truncate', fn: () => void): this
    off(event: 'append' | 'truncate', fn: () => void): this
  }

  /** The store `open` builds views from. */
  export interface ViewStore {
    get(opts: string | { name: string; valueEncoding?: unknown }): Hypercore
  }

  export interface AutobaseOptions<V, T> {
    open: (store: ViewStore, host: Host) => V
    apply: (nodes: Array<ApplyNode<T>>, view: V, host: Host) => Promise<void>
    close?: (view: V) => Promise<void>
    optimistic?: boolean
    valueEncoding?: unknown
    ackInterval?: number
    ackThreshold?: number
    fastForward?: boolean | { key: Buffer }
    bigBatches?: boolean
  }

  /** A writer as Autobase tracks it: its core, and whether everything it has of that core is applied. */
  export interface ActiveWriter {
    readonly core: Hypercore
    /** Its blocks added to this peer's DAG. */
    readonly length: number
    /** Not in Autobase's README: its blocks the indexers' consensus ordered. */
    readonly indexed: number
    idle(): boolean
    /** Not in Autobase's README: its newest node in this peer's DAG, with what it had seen (null once indexed). */
    head(): { readonly clock: { get(key: Buffer): number } | null } | null
  }

  class Autobase<V = unknown, T = Buffer> extends EventEmitter {
    constructor(store: Corestore, bootstrap: Buffer | null, opts: AutobaseOptions<V, T>)
    readonly key: Buffer
    readonly discoveryKey: Buffer
    readonly local: LocalWriter
    readonly view: V
    readonly core: Hypercore // the system core
    /** Not in Autobase's README: the writers this peer linearizes (market/ledger.ts catchUp reads them). */
    readonly activeWriters: Iterable<ActiveWriter>
    /** Not in Autobase's README: the indexers' writers (null before the first update). */
    readonly linearizer: { readonly indexers: ActiveWriter[] } | null
    readonly writable: boolean
    readonly isIndexer: boolean
    readonly signedLength: number
    readonly indexedLength: number
    readonly length: number
    readonly opened: boolean
    readonly closing: Promise<void> | null
    readonly closed: boolean
    /** Not in Autobase's README: whether it is moving its view to a fast-forward target now. */
    isFastForwarding(): boolean
    ready(): Promise<void>
    close(): Promise<void>
    append(value: T | T[] | null, opts?: { optimistic?: boolean }): Promise<number>
    update(): Promise<void>
    setBigBatches(enable: boolean): void
    ack(bg?: boolean): Promise<void>
    replicate(isInitiatorOrStream: boolean | unknown, opts?: object): unknown
    heads(): unknown[]
    /** The system's state at the indexed length: `views[i].length` is how much of view i the indexers' consensus fixed. */
    getIndexedInfo(): Promise<{ views: Array<{ key: Buffer; length: number }> } | null>
    on(
      event:
        'update' | 'writable' | 'unwritable' | 'is-indexer' | 'is-non-indexer' | 'fast-forward',
      fn: () => void
    ): this
    on(event: 'error' | 'warning', fn: (err: Error) => void): this
    on(event: 'interrupt', fn: (reason: unknown) => void): this
    off(event: string, fn: (...args: any[]) => void): this
  }
  export default Autobase
}
