// Thin declarations for hyperbee 2: the calls scit uses (keys utf-8, values binary).
declare module 'hyperbee' {
  import { Readable } from 'stream'
  import Hypercore from 'hypercore'
  export interface Range {
    gt?: string
    gte?: string
    lt?: string
    lte?: string
  }
  export interface RangeOptions extends Range {
    reverse?: boolean
    limit?: number
  }
  export interface Entry<K = string, V = Buffer> {
    seq: number
    key: K
    value: V
  }
  export interface DiffEntry<K = string, V = Buffer> {
    left: Entry<K, V> | null
    right: Entry<K, V> | null
  }
  export interface HyperbeeOptions {
    keyEncoding?: string
    valueEncoding?: string
    extension?: boolean
    readonly?: boolean
  }
  /** The bee's core; under Autobase, signedLength is the part of the view a quorum of indexers signed. */
  export type BeeCore = Hypercore & { readonly signedLength: number }
  export interface BatchOptions {
    update?: boolean
    checkout?: number
  }

  export interface Batch {
    readonly version: number
    get(key: string): Promise<Entry | null>
    put(key: string, value: Buffer): Promise<void>
    del(key: string): Promise<void>
    peek(range?: Range, opts?: RangeOptions): Promise<Entry | null>
    createReadStream(range?: RangeOptions, opts?: RangeOptions): Readable & AsyncIterable<Entry>
    flush(): Promise<void>
    close(): Promise<void>
  }

  class Hyperbee {
    constructor(core: Hypercore, opts?: HyperbeeOptions)
    readonly core: BeeCore
    readonly version: number
    readonly opened: boolean
    readonly closed: boolean
    readonly key: Buffer
    ready(): Promise<void>
    close(): Promise<void>
    get(key: string, opts?: { wait?: boolean; update?: boolean }): Promise<Entry | null>
    put(key: string, value: Buffer): Promise<void>
    del(key: string): Promise<void>
    peek(range?: Range, opts?: RangeOptions): Promise<Entry | null>
    batch(opts?: BatchOptions): Batch
    createReadStream(range?: RangeOptions, opts?: RangeOptions): Readable & AsyncIterable<Entry>
    createDiffStream(
      otherVersion: number,
      range?: RangeOptions
    ): Readable & AsyncIterable<DiffEntry>
    checkout(version: number): Hyperbee
    snapshot(): Hyperbee
  }
  export default Hyperbee
}
