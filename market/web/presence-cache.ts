/**
 * Nodes' signed presence, looked up on the DHT in the background and kept, so a page answers without waiting for
 * one lookup per node. The answers are the explorer's own (explorer/presence.ts), only remembered.
 */
import ReadyResource from 'ready-resource'
import type DHT from 'hyperdht'
import { logger } from '../../lib/log'
import * as Q from '../queries'
import { presences, announced, NodePresence } from '../explorer/presence'
import type { NodeSources } from '../explorer/model'
import type { KeyText } from '../types'
import type { MarketPeer } from '../peer'
import { HyperbeeView } from '../hyperbee-view'
import safetyCatch from 'safety-catch'

const log = logger('market/web')

export interface PresenceCacheOptions {
  /** ms between two rounds of lookups. */
  interval?: number
  /** ms one lookup may take. */
  timeout?: number
  /** Told after each round. */
  onrefresh?: () => void
}

export class PresenceCache extends ReadyResource {
  private found = new Map<KeyText, NodePresence>()
  private keys: KeyText[] = []
  private timer: NodeJS.Timeout | null = null
  private round: Promise<void> | null = null
  /** Rounds completed. */
  rounds = 0

  constructor(
    private readonly peer: MarketPeer,
    private readonly dht: DHT | null,
    private readonly opts: PresenceCacheOptions = {}
  ) {
    super()
  }

  protected override async _open(): Promise<void> {
    if (this.dht === null) return
    this.refresh()
    this.timer = setInterval(() => this.refresh(), this.opts.interval ?? 30_000)
  }

  protected override async _close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer)
    await this.round
  }

  /** What the explorer's node rows take instead of lookups of their own. */
  get sources(): Pick<NodeSources, 'lookup' | 'announced'> {
    return {
      lookup: async (nodes) => {
        const out = new Map<KeyText, NodePresence>()
        for (const n of nodes) {
          const p = this.found.get(n)
          if (p !== undefined) out.set(n, p)
        }
        return out
      },
      announced: this.keys
    }
  }

  /** Start a round unless one runs. */
  refresh(): void {
    if (this.round !== null || this.closing !== null) return
    this.round = this.lookup()
      .catch((err) => log.warn('presence lookups failed', { err: (err as Error).message }))
      .finally(() => {
        this.round = null
      })
    this.round.catch(safetyCatch)
  }

  private async lookup(): Promise<void> {
    const dht = this.dht
    if (dht === null) return
    const opts = { timeout: this.opts.timeout ?? 10_000 }
    const snap = this.peer.ledger.view.snapshot()
    let nodes: KeyText[]
    try {
      nodes = (await Q.listOffers(HyperbeeView.reading(snap), { includeWithdrawn: true })).map(
        (o) => o.node
      )
    } finally {
      await snap.close()
    }
    const keys = await announced(dht, this.peer.key, opts)
    const found = await presences(dht, this.peer.key, [...nodes, ...keys], opts)
    if (this.closing !== null) return
    this.found = found
    this.keys = keys
    this.rounds++
    this.opts.onrefresh?.()
  }
}
