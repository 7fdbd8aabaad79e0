/**
 * The node's side of the shard protocol (lib/archive/shard-channel.ts) on
 * every connection: requests go to the keeper of the contract's group and
 * shard (node/archive-keeper.ts), and a keeper reaches other holders through
 * here to rebuild.
 */
import { EventEmitter } from 'events'
import type Hyperswarm from 'hyperswarm'
import { ScitError } from '../lib/errors'
import { ShardChannel, ShardHandler } from '../lib/archive/shard-channel'
import type { ShardRef } from '../lib/archive/messages'
import type { ShardKeeper } from './archive-keeper'

interface Connection {
  remotePublicKey: Buffer
  once(event: 'close', fn: () => void): unknown
}

export class ShardPeers {
  private readonly channels = new Map<string, ShardChannel>()
  private readonly connected = new EventEmitter()
  private closed = false

  constructor(
    private readonly swarm: Hyperswarm,
    /** The keepers of this node's archive leases now. */
    private readonly keepers: () => ShardKeeper[]
  ) {
    this.connected.setMaxListeners(0)
  }

  attach(conn: Connection): void {
    const ch = ShardChannel.attach(conn, this.handler())
    const peer = conn.remotePublicKey.toString('hex')
    this.channels.set(peer, ch)
    this.connected.emit(peer, ch)
    conn.once('close', () => {
      if (this.channels.get(peer) === ch) this.channels.delete(peer)
    })
  }

  /** The shard protocol to `node`, asking the swarm to connect; null when not connected in `timeout` ms. */
  async reach(node: Buffer, timeout: number): Promise<ShardChannel | null> {
    const peer = node.toString('hex')
    const have = this.channels.get(peer)
    if (have !== undefined && !have.closed) return have
    if (this.closed) return null
    this.swarm.joinPeer(node)
    return await new Promise((resolve) => {
      const done = (ch: ShardChannel | null): void => {
        clearTimeout(timer)
        this.connected.off(peer, done)
        resolve(ch)
      }
      const timer = setTimeout(() => done(null), timeout)
      this.connected.on(peer, done)
    })
  }

  close(): void {
    this.closed = true
    for (const ch of this.channels.values()) ch.close()
    for (const peer of this.connected.eventNames()) this.connected.emit(peer, null)
  }

  private of(contract: Buffer): ShardKeeper[] {
    return this.keepers().filter((k) => k.ctx.contract.equals(contract))
  }

  private keeperOf(m: ShardRef): ShardKeeper {
    const k = this.of(m.contract).find(
      (x) => x.place?.group === m.group && x.place.shard === m.shard
    )
    if (k === undefined)
      throw new ScitError(
        'NOT_FOUND',
        `this node holds no shard ${m.shard} of group ${m.group} of that contract`
      )
    return k
  }

  private handler(): ShardHandler {
    return {
      store: (from, m) => this.keeperOf(m).store(from, m),
      fetch: (from, m, signal) => this.keeperOf(m).fetch(from, m, signal),
      summary: async (_from, contract) => {
        const mine = this.of(contract).map((k) => k.summary())
        if (mine.length === 0)
          throw new ScitError('NOT_FOUND', 'this node holds no shard of that contract')
        const sum = (f: (x: (typeof mine)[number]) => number): number =>
          mine.reduce((n, x) => n + f(x), 0)
        return {
          held: sum((x) => x.held),
          missing: sum((x) => x.missing),
          rebuilding: sum((x) => x.rebuilding),
          bytes: sum((x) => x.bytes)
        }
      }
    }
  }
}
