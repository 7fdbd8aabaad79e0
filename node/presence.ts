/**
 * DHT presence (docs/ARCHITECTURE.md "Presence"): the node keeps a signed capacity record as a
 * DHT mutable record, so anyone finds live nodes without the ledger. The signed
 * `presence` envelope keeps it verifiable wherever it is passed on.
 */
import ReadyResource from 'ready-resource'
import b4a from 'b4a'
import c from 'compact-encoding'
import type Hyperswarm from 'hyperswarm'
import type { Discovery } from 'hyperswarm'
import { seal } from '../lib/envelope'
import type { KeyPair } from '../lib/identity'
import { logger } from '../lib/log'
import { marketTopic } from '../lib/topics'
import { presenceRecord, PresenceRecord, PRESENCE_VERSION } from '../lib/node-messages'
import safetyCatch from 'safety-catch'
import { raceTimeout } from '../lib/timeout'
import { UNANNOUNCE_WITHIN } from '../lib/swarm'

const log = logger('node/presence')

export type PresenceInput = Omit<PresenceRecord, 'version'>

export interface PresenceOptions {
  swarm: Hyperswarm
  identity: KeyPair
  record: PresenceInput
  /** Re-put period (ms), so the record never ages out of the DHT. */
  refreshInterval?: number
}

export class Presence extends ReadyResource {
  private readonly swarm: Hyperswarm
  private readonly identity: KeyPair
  private current: PresenceRecord
  private discovery: Discovery | null = null
  private timer: NodeJS.Timeout | null = null
  private readonly refreshInterval: number
  private publishing: Promise<void> = Promise.resolve()
  /** A timestamp, so seq keeps growing across restarts. */
  seq = 0

  constructor(opts: PresenceOptions) {
    super()
    this.swarm = opts.swarm
    this.identity = opts.identity
    this.current = { version: PRESENCE_VERSION, ...opts.record }
    this.refreshInterval = opts.refreshInterval ?? 30 * 60_000
  }

  get record(): PresenceRecord {
    return this.current
  }
  get topic(): Buffer {
    return marketTopic(this.current.market)
  }

  protected override async _open(): Promise<void> {
    this.discovery = this.swarm.join(this.topic, { server: true, client: false })
    await this.discovery.flushed()
    await this.publish()
    this.timer = setInterval(() => {
      this.publish().catch((err) =>
        log.warn('presence refresh failed', { err: (err as Error).message })
      )
    }, this.refreshInterval)
    this.timer.unref()
  }

  /** A put in flight and the unannounce wait on the DHT for `UNANNOUNCE_WITHIN` at most (lib/swarm.ts destroySwarm). */
  protected override async _close(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    const ending = this.publishing.then(() => this.discovery?.destroy())
    ending.catch(safetyCatch)
    // Our session only: the market peer may share this swarm and this topic.
    await raceTimeout(ending, UNANNOUNCE_WITHIN)
  }

  /** Re-put only when the record changed. */
  async update(patch: Partial<PresenceInput>): Promise<boolean> {
    const next: PresenceRecord = { ...this.current, ...patch, version: PRESENCE_VERSION }
    if (b4a.equals(c.encode(presenceRecord, next), c.encode(presenceRecord, this.current)))
      return false
    this.current = next
    await this.publish()
    return true
  }

  /** Serialised: two puts never race on seq. */
  publish(): Promise<void> {
    const run = this.publishing.then(async () => {
      const seq = Math.max(this.seq + 1, Date.now())
      const value = seal(this.identity, {
        type: 'presence',
        seq,
        timestamp: Date.now(),
        body: c.encode(presenceRecord, this.current)
      })
      await this.swarm.dht.mutablePut(this.identity, value, { seq })
      this.seq = seq
      log.debug('presence published', { seq })
      this.emit('published', this.current, seq)
    })
    this.publishing = run.catch(safetyCatch)
    return run
  }
}
