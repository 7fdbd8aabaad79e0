/**
 * The shard protocol ("scit/archive/v1", messages.ts) on a swarm connection:
 * a bot stores blocks on a holder during a put and fetches them during a get;
 * a node fetches other holders' blocks to rebuild its shard. Every peer
 * attaches it; only a node answers (its handler decides who may do what, by
 * the connection's authenticated key).
 */
import Protomux, { Channel, Message } from 'protomux'
import { ScitError } from '../errors'
import { Requests } from '../requests'
import { logger } from '../log'
import {
  PROTOCOL,
  store,
  stored,
  fetch,
  fetched,
  cancel,
  summaryRequest,
  summary,
  ShardRef,
  Store,
  Stored,
  Fetch,
  Fetched,
  Cancel,
  SummaryRequest,
  Summary
} from './messages'

const log = logger('archive/channel')
const DEFAULT_TIMEOUT = 30_000

export type Held = Omit<Summary, 'id' | 'error'>

/** Block bytes one side stored on its peers and fetched from them. */
export interface ShardTraffic {
  stored: number
  fetched: number
}

/** What a holder does; each call may throw a ScitError, whose message goes back as the answer's error. */
export interface ShardHandler {
  store(from: Buffer, m: Store): Promise<number>
  fetch(from: Buffer, m: Fetch, signal: AbortSignal): Promise<Omit<Fetched, 'id' | 'error'>>
  summary(from: Buffer, contract: Buffer): Promise<Held>
}

interface Connection {
  remotePublicKey: Buffer
}

export class ShardChannel {
  readonly remote: Buffer
  /** Block bytes this side stored and fetched, added to a count its owner may share across channels (a bot's, to show what it moves). */
  readonly traffic: ShardTraffic
  private readonly channel: Channel
  private readonly requests = new Requests()
  /** Fetches this side is answering, by id: a cancel aborts them. */
  private readonly serving = new Map<number, AbortController>()
  private readonly m: {
    store: Message<Store>
    stored: Message<Stored>
    fetch: Message<Fetch>
    fetched: Message<Fetched>
    cancel: Message<Cancel>
    summaryRequest: Message<SummaryRequest>
    summary: Message<Summary>
  }

  static attach(
    conn: Connection,
    handler: ShardHandler | null,
    traffic: ShardTraffic = { stored: 0, fetched: 0 }
  ): ShardChannel {
    return new ShardChannel(conn, handler, traffic)
  }

  private constructor(
    conn: Connection,
    private readonly handler: ShardHandler | null,
    traffic: ShardTraffic
  ) {
    this.remote = conn.remotePublicKey
    this.traffic = traffic
    const channel = Protomux.from(conn).createChannel({
      protocol: PROTOCOL,
      onclose: () => {
        this.requests.failAll('channel closed')
        for (const a of this.serving.values()) a.abort()
      }
    })
    if (channel === null)
      throw new ScitError('INVALID_ARGUMENT', `${PROTOCOL} is already open on this connection`)
    this.channel = channel
    // message order is the wire's message type: append only
    this.m = {
      store: channel.addMessage({ encoding: store, onmessage: (s) => this.onStore(s) }),
      stored: channel.addMessage({
        encoding: stored,
        onmessage: (s) => this.requests.settle(s.id, s)
      }),
      fetch: channel.addMessage({ encoding: fetch, onmessage: (f) => this.onFetch(f) }),
      fetched: channel.addMessage({
        encoding: fetched,
        onmessage: (f) => this.requests.settle(f.id, f)
      }),
      cancel: channel.addMessage({
        encoding: cancel,
        onmessage: (x) => this.serving.get(x.id)?.abort()
      }),
      summaryRequest: channel.addMessage({
        encoding: summaryRequest,
        onmessage: (r) => this.onSummary(r)
      }),
      summary: channel.addMessage({
        encoding: summary,
        onmessage: (s) => this.requests.settle(s.id, s)
      })
    }
    channel.open()
  }

  get closed(): boolean {
    return this.channel.closed
  }

  close(): void {
    this.channel.close()
    this.requests.failAll('channel closed')
  }

  /**
   * Append `blocks` at `start` of a shard on the holder; resolves with the blocks it holds then.
   * The message is encoded at once; what waits for the answer (whenStored) holds only their size, not them.
   */
  store(
    ref: ShardRef,
    start: number,
    blocks: Buffer[],
    timeout = DEFAULT_TIMEOUT
  ): Promise<number> {
    const bytes = blocks.reduce((n, b) => n + b.byteLength, 0)
    let answer: Promise<Stored>
    try {
      answer = this.request<Stored>(
        (id) => this.m.store.send({ id, ...ref, start, blocks }),
        timeout
      )
    } catch (err) {
      return Promise.reject(err as Error)
    }
    return this.whenStored(answer, bytes)
  }

  private async whenStored(answer: Promise<Stored>, bytes: number): Promise<number> {
    const a = await answer
    if (a.error !== null) throw new ScitError('REJECTED', a.error)
    this.traffic.stored += bytes
    return a.length
  }

  /** Blocks [start, end) of a shard; `proveAt` > 0 asks for Merkle paths at that length. Abort cancels it on the holder too. */
  async fetch(
    ref: ShardRef,
    start: number,
    end: number,
    opts: { proveAt?: number; timeout?: number; signal?: AbortSignal } = {}
  ): Promise<Fetched> {
    let sent = -1
    const onabort = (): void => {
      if (sent === -1) return
      if (!this.closed) this.m.cancel.send({ id: sent })
      // not kept waiting for the timeout: the caller's closures hold the blocks of the answers it did use
      this.requests.fail(sent, new ScitError('CLOSED', 'cancelled'))
    }
    opts.signal?.addEventListener('abort', onabort, { once: true })
    try {
      const a = await this.request<Fetched>((id) => {
        sent = id
        this.m.fetch.send({ id, ...ref, start, end, proveAt: opts.proveAt ?? 0 })
      }, opts.timeout ?? DEFAULT_TIMEOUT)
      if (a.error !== null) throw new ScitError('REJECTED', a.error)
      for (const b of a.blocks) this.traffic.fetched += b.byteLength
      return a
    } finally {
      opts.signal?.removeEventListener('abort', onabort)
    }
  }

  async summary(contract: Buffer, timeout = DEFAULT_TIMEOUT): Promise<Held> {
    const a = await this.request<Summary>(
      (id) => this.m.summaryRequest.send({ id, contract }),
      timeout
    )
    if (a.error !== null) throw new ScitError('REJECTED', a.error)
    return a
  }

  private onStore(s: Store): void {
    const h = this.handler
    if (h === null) return void this.m.stored.send({ id: s.id, error: 'not a node', length: 0 })
    h.store(this.remote, s).then(
      (length) => this.m.stored.send({ id: s.id, error: null, length }),
      (err: Error) => this.m.stored.send({ id: s.id, error: reason(err), length: 0 })
    )
  }

  private onFetch(f: Fetch): void {
    const h = this.handler
    const none = { blocks: [], roots: [], paths: [] }
    if (h === null) return void this.m.fetched.send({ id: f.id, error: 'not a node', ...none })
    const abort = new AbortController()
    this.serving.set(f.id, abort)
    h.fetch(this.remote, f, abort.signal)
      .then(
        (r) => {
          if (!abort.signal.aborted) this.m.fetched.send({ id: f.id, error: null, ...r })
        },
        (err: Error) => {
          if (!abort.signal.aborted) this.m.fetched.send({ id: f.id, error: reason(err), ...none })
        }
      )
      .finally(() => this.serving.delete(f.id))
  }

  private onSummary(r: SummaryRequest): void {
    const h = this.handler
    const none = { held: 0, missing: 0, rebuilding: 0, bytes: 0 }
    if (h === null) return void this.m.summary.send({ id: r.id, error: 'not a node', ...none })
    h.summary(this.remote, r.contract).then(
      (s) => this.m.summary.send({ id: r.id, error: null, ...s }),
      (err: Error) => this.m.summary.send({ id: r.id, error: reason(err), ...none })
    )
  }

  private request<T>(send: (id: number) => void, timeout: number): Promise<T> {
    if (this.channel.closed) throw new ScitError('CLOSED', 'archive channel is closed')
    return this.requests.request<T>(send, timeout, 'the holder')
  }
}

/** What goes back on the wire: a ScitError's message; anything else is logged here and said vaguely there. */
function reason(err: Error): string {
  if (err instanceof ScitError) return err.message
  log.warn('shard request failed', { err: err.message })
  return 'internal error'
}
