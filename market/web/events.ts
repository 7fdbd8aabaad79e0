/**
 * Server-sent events from the view's updates: each offer and trade record that changed since the client's last
 * event (a Hyperbee diff between two versions of the final view: it reads only the changed parts of the tree), then
 * `sync` carrying the id to resume from. A client that comes back with Last-Event-ID gets what it missed; one whose
 * id names another view, or that missed too much, gets `reset` and reloads.
 */
import type { ServerResponse } from 'http'
import type Hyperbee from 'hyperbee'
import b4a from 'b4a'
import { logger } from '../../lib/log'
import * as K from '../engine/keys'
import { decode, offerRecord, tradeRecord } from '../messages'
import type { MarketPeer } from '../peer'
import safetyCatch from 'safety-catch'

const log = logger('market/web')

/** More changes than this since a client's last event: it reloads instead. */
export const MAX_REPLAY = 500
const PING = 15_000
const SETTLE = 250

interface Client {
  res: ServerResponse
  version: number
}

const WATCHED: Array<{ event: string; prefix: string }> = [
  { event: 'offer', prefix: K.OFFERS },
  { event: 'trade', prefix: 'trade/' }
]

export class EventHub {
  private readonly clients = new Set<Client>()
  /** All the hub's work runs in this chain, one step at a time, so versions only move forward. */
  private chain: Promise<void> = Promise.resolve()
  private version: number
  private pending: NodeJS.Timeout | null = null
  private readonly ping: NodeJS.Timeout
  private readonly onupdate = (): void => {
    if (this.pending !== null) return
    this.pending = setTimeout(() => {
      this.pending = null
      this.queue(() => this.advance())
    }, SETTLE)
  }

  constructor(private readonly peer: MarketPeer) {
    this.version = peer.ledger.finalVersion
    peer.client.on('update', this.onupdate)
    this.ping = setInterval(() => {
      for (const c of this.clients) c.res.write(': ping\n\n')
    }, PING)
  }

  /** The id of the view as it is now: `<view key, 8 hex>.<final version>`. */
  get id(): string {
    return `${this.epoch}.${this.peer.ledger.finalVersion}`
  }

  private get epoch(): string {
    return b4a.toString(this.peer.ledger.view.core.key, 'hex').slice(0, 8)
  }

  /** A new stream; `since` is Last-Event-ID (or the id a page's first read carried). */
  attach(res: ServerResponse, since: string | null): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive'
    })
    res.write('retry: 2000\n\n')
    this.queue(async () => {
      await this.advance() // a page's first read may be newer than the last update sent
      const client: Client = { res, version: this.version }
      const m = since === null ? null : /^([0-9a-f]{8})\.(\d+)$/.exec(since)
      if (m !== null && m[1] === this.epoch && Number(m[2]) <= this.version)
        await this.send([client], Number(m[2]), this.version)
      else if (since !== null)
        this.write(client, 'reset', { reason: 'another view, or an id from elsewhere' })
      this.sync([client])
      this.clients.add(client)
      res.once('close', () => this.clients.delete(client))
    })
  }

  /** Tell every page something that is not in the view changed (presence looked up anew). */
  notify(event: string): void {
    this.queue(async () => {
      for (const c of this.clients) this.write(c, event, {})
    })
  }

  close(): void {
    clearInterval(this.ping)
    if (this.pending !== null) clearTimeout(this.pending)
    this.peer.client.off('update', this.onupdate)
    for (const c of this.clients) c.res.end()
    this.clients.clear()
  }

  private queue(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((err) => {
      log.warn('live update failed', { err: (err as Error).message })
    })
    this.chain.catch(safetyCatch)
  }

  private async advance(): Promise<void> {
    const to = this.peer.ledger.finalVersion
    if (to === this.version) return
    if (to < this.version) {
      // a new view (the indexers changed): every page reloads
      for (const c of this.clients) this.write(c, 'reset', { reason: 'the market has a new view' })
    } else await this.send([...this.clients], this.version, to)
    this.version = to
    this.sync([...this.clients])
  }

  /** The records that changed between two versions of the final view. */
  private async send(to: Client[], from: number, until: number): Promise<void> {
    if (to.length === 0 || from >= until) return
    const snap: Hyperbee = this.peer.ledger.view.checkout(until)
    const out: Array<[string, unknown]> = []
    try {
      for (const w of WATCHED) {
        for await (const { left } of snap.createDiffStream(from, K.prefixRange(w.prefix))) {
          if (left === null) continue
          out.push([
            w.event,
            w.event === 'offer' ? decode(offerRecord, left.value) : decode(tradeRecord, left.value)
          ])
          if (out.length > MAX_REPLAY) break
        }
      }
    } finally {
      await snap.close()
    }
    for (const c of to) {
      if (out.length > MAX_REPLAY) this.write(c, 'reset', { reason: 'too much changed' })
      else for (const [event, data] of out) this.write(c, event, data)
    }
  }

  private sync(to: Client[]): void {
    for (const c of to) {
      c.version = this.version
      c.res.write(
        `id: ${this.epoch}.${this.version}\nevent: sync\ndata: {"version":${this.version}}\n\n`
      )
    }
  }

  private write(c: Client, event: string, data: unknown): void {
    c.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
  }
}
