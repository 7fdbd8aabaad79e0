/**
 * A market peer: store, ledger, client and swarm wiring; node/, bot/, the explorer and `scit market serve` run one.
 * What it is given (a store, a swarm) it leaves open; what it creates it closes, in reverse order.
 */
import path from 'path'
import ReadyResource from 'ready-resource'
import type Corestore from 'corestore'
import Hyperswarm from 'hyperswarm'
import type { SwarmConnection, Discovery } from 'hyperswarm'
import type DHT from 'hyperdht'
import type { Bootstrap } from '../lib/config'
import { ScitError } from '../lib/errors'
import { openOrClose } from '../lib/lifecycle'
import type { KeyPair } from '../lib/identity'
import { encodeKey, shortKey } from '../lib/keys'
import { logger } from '../lib/log'
import { marketTopic } from '../lib/topics'
import { createSwarm, destroySwarm, leaveWithin } from '../lib/swarm'
import { probe } from '../lib/faults'
import { openDataDir, privateDir } from '../lib/datadir'
import { openStore, FOLLOWER_LIMITS, CoreMarks } from '../lib/store'
import { apply as engineApply } from './engine'
import { Ledger } from './ledger'
import { Follower } from './follower'
import { Client } from './client'
import { Relays } from './relay'
import { PeerClock } from './clock'
import type { Apply, MarketLedger, Outcome } from './types'
import safetyCatch from 'safety-catch'

const log = logger('market')
/** How often a peer that reaches no indexer looks the market's topic up again (`rediscover`). */
const REDISCOVER = 15_000

export interface GenesisOptions {
  faucets: Buffer[]
  settlementWindow: number // ms
  /** ms; an offer not renewed for this long is not sold (0 or absent: never). */
  offerTtl?: number
}

export interface MarketPeerOptions {
  /** A data directory (the store lives in <data>/market), or a store to share. */
  data?: string
  store?: Corestore
  /** Signs this peer's ops; null for a read-only explorer. */
  identity: KeyPair | null
  /** The market to join. Omit it, and give `genesis`, to create a market. */
  market?: Buffer | null
  genesis?: GenesisOptions
  /** A swarm to share (e.g. a node's), else one is made on `dht` or `bootstrap` (null: the public DHT). */
  swarm?: Hyperswarm
  dht?: DHT
  bootstrap?: Bootstrap[] | null
  /** true: no swarm at all. */
  offline?: boolean
  /** false: join the topic but do not announce (a short-lived client). Default true. */
  announce?: boolean
  writable?: boolean
  apply?: Apply
  ackInterval?: number
  bigBatches?: boolean
  /** ms an appended op may stay undecided before it is sent again. */
  resendAfter?: number
  /** The market relay, default true: a writer relays for others, a non-writer sends through one. */
  relay?: boolean
  /** Read the indexers' signed view sparsely instead of applying the market (market/follower.ts). */
  follow?: boolean
  /** Apply every op from genesis into a view of its own, never fast-forwarding (`scit market verify`). */
  replay?: boolean
  /** ms a follower waits for a peer to show it the market's view (Infinity: a daemon, as long as it takes). */
  joinTimeout?: number
  /** ms an op's outcome is waited for when its caller names no timeout (market/client.ts; default 30 s). */
  outcomeTimeout?: number
  /** Keep each op's way to final and the ledger stages' costs (market/timeline.ts; benches). */
  timeline?: boolean
  /** Told what a join still waits for, after 2 s and every 5 s (the CLI prints it on stderr). */
  progress?: (line: string) => void
  now?: () => number
}

export class MarketPeer extends ReadyResource {
  store: Corestore | null = null
  swarm: Hyperswarm | null = null
  private _ledger: MarketLedger | null = null
  private _client: Client | null = null
  relays: Relays | null = null
  private ownStore = false
  /** Its writer core's length, checked at open (lib/store.ts CoreMarks); a full ledger's own store only. */
  private marks: CoreMarks | null = null
  private ownSwarm = false
  private topic: Buffer | null = null
  private readonly connections = new Set<SwarmConnection>()
  genesis: Outcome | null = null
  private unprobe: (() => void) | null = null
  private rediscovery: NodeJS.Timeout | null = null
  private discovery: { refresh: () => void; at: number } | null = null
  /** What its open is doing: what a start that stalls was waiting for. */
  step = 'opening its store'
  private readonly onconnection = (conn: SwarmConnection): void => this.replicate(conn)

  constructor(private readonly opts: MarketPeerOptions) {
    super()
    if (!opts.store && !opts.data)
      throw new ScitError('INVALID_ARGUMENT', 'a market peer needs a data directory or a store')
    if (!opts.market && !opts.genesis)
      throw new ScitError(
        'INVALID_ARGUMENT',
        'give a market key to join, or genesis options to create one'
      )
  }

  get ledger(): MarketLedger {
    if (this._ledger === null) throw new ScitError('CLOSED', 'the market peer is not open')
    return this._ledger
  }

  /** Stop waiting for the market: a join in progress fails with CLOSED (its ledger closes). */
  async cancelJoin(): Promise<void> {
    if (!this.opened) await this._ledger?.close()
  }

  /** The ledger of a peer that applies the market (not a follower). */
  get full(): Ledger {
    if (!(this._ledger instanceof Ledger))
      throw new ScitError(
        'INVALID_ARGUMENT',
        'this market peer follows the market: it does not apply it'
      )
    return this._ledger
  }

  get following(): boolean {
    return this._ledger instanceof Follower
  }

  get client(): Client {
    if (this._client === null) throw new ScitError('CLOSED', 'the market peer is not open')
    return this._client
  }

  get key(): Buffer {
    return this.ledger.key
  }
  get identity(): KeyPair | null {
    return this.opts.identity
  }
  get peers(): number {
    return this.connections.size
  }

  /** This peer's market clock: the median of the clocks of the indexers it reaches (market/clock.ts). */
  now(): number {
    return this.relays?.clock.now() ?? (this.opts.now ?? Date.now)()
  }

  protected override async _open(): Promise<void> {
    await openOrClose(
      () => this.open(),
      () => this._close()
    )
  }

  private async open(): Promise<void> {
    const o = this.opts
    this.ownStore = !o.store
    // Owner-only, umask 077 (lib/datadir): the store holds the key of this peer's ledger writer.
    const follow = o.follow === true && !!o.market
    const dir = o.store ? null : privateDir(path.join(openDataDir(o.data as string), 'market'))
    this.store = o.store ?? openStore(dir as string, follow ? FOLLOWER_LIMITS : {})
    await this.store.ready()
    // before anything reads, relays or appends: a store RocksDB opened on an older state than its writer core had
    // would append a second block at a length it signed once, a fork of its writer core every peer refuses
    if (dir !== null && !follow) this.marks = await CoreMarks.check(dir, this.store)
    this.step = 'opening its ledger'

    if (follow && o.relay === false)
      throw new ScitError(
        'INVALID_ARGUMENT',
        'a follower sends its ops through a relay: it cannot run with relay: false'
      )
    const ledger = follow
      ? new Follower(this.store, o.market as Buffer, { resendAfter: o.resendAfter })
      : new Ledger(this.store, o.market ?? null, {
          apply: o.apply ?? engineApply,
          ackInterval: o.ackInterval,
          bigBatches: o.bigBatches,
          resendAfter: o.resendAfter,
          timeline: o.timeline,
          ...(o.replay === true ? { fastForward: false, viewName: 'replay' } : {})
        })
    this._ledger = ledger
    ledger.on('error', (err: Error) => this.emit('error', err))
    if (o.relay !== false) {
      const relays = new Relays(
        ledger,
        ledger instanceof Follower
          ? (key) => {
              void ledger.offer(key)
            }
          : undefined,
        new PeerClock(o.now ?? Date.now, () => ledger.writable)
      )
      this.relays = relays
      ledger.relay = (envelopes) => relays.send(envelopes)
      if (ledger instanceof Follower) {
        ledger.shows = (key) => relays.shows(key)
        ledger.stuck = () => {
          relays.passOver()
          this.lookAgain()
        }
      }
    }
    await ledger.ready()
    if (this.marks !== null && ledger instanceof Ledger)
      this.marks.track(ledger.writerCore, { whole: true })
    // A full ledger joining a market reads its view once its swarm is up: a fast-forward leaves that view's blocks
    // on its peers, and a read of one with no swarm waits on nothing (the process exits: the soak's idx1).
    const joining = !follow && !!o.market && o.offline !== true
    if (!follow && !joining) {
      this.step = "reading this peer's last op from its view"
      await this.openClient()
    }
    this.step = 'creating the market'
    if (!o.market && o.genesis) await this.createGenesis(o.genesis)
    if (o.offline === true) {
      if (follow) throw new ScitError('INVALID_ARGUMENT', 'a follower needs the network')
      return
    }

    this.ownSwarm = !o.swarm
    this.swarm =
      o.swarm ??
      (o.dht !== undefined
        ? new Hyperswarm({ dht: o.dht })
        : createSwarm({ bootstrap: o.bootstrap ?? null }))
    this.swarm.on('connection', this.onconnection)
    for (const conn of this.swarm.connections) this.replicate(conn)
    this.topic = marketTopic(ledger.key)
    const announce = o.announce !== false
    const discovery = this.swarm.join(this.topic, { server: announce, client: true })
    this.rediscover(discovery, announce)
    if (ledger instanceof Follower) {
      this.step = 'finding a view its indexers sign'
      await ledger.viewKnown(o.joinTimeout ?? 30_000, o.progress)
      this.step = "reading this peer's last op from its view"
      await this.openClient()
    } else if (o.market) {
      this.step = 'announcing itself on the market topic'
      if (announce) await discovery.flushed()
      // Catch up first: an op appended on a stale view would be applied against a state it was not meant for.
      this.step = 'connecting to the peers the market topic lists'
      await this.swarm.flush()
      this.step = 'catching up with the market'
      await ledger.update()
      this.step = "reading this peer's last op from its view"
      await this.openClient()
    } else if (announce) {
      this.step = 'announcing itself on the market topic'
      await discovery.flushed()
    }
    this.step = 'open'
    log.info('joined market', { market: encodeKey(ledger.key), follower: follow })
    this.unprobe = probe('market', () => this.signedView())
  }

  /**
   * Hyperswarm stops dialling a peer after 4 failed attempts until its next lookup of the topic (10 min): after a
   * partition of 20 s, an indexer stayed away from the others, and its ops were never final; a node cut off as it
   * started, with no view yet, never joined (the soak). A follower that reaches no indexer, and an indexer that
   * does not reach every other one, looks the topic up again every REDISCOVER ms; a follower that reaches some, when
   * its ops are not final (`lookAgain`). An indexer reaching one other indexer only is not enough: the soak's idx1,
   * given up by idx0 during a cut, reached idx2 only, which held idx0's blocks only sparsely (restarted, it had
   * fast-forwarded): idx1 stayed at 348 of idx0's 776 blocks and never signed again.
   */
  private rediscover(discovery: Discovery, announce: boolean): void {
    const relays = this.relays
    if (relays === null) return
    const d = {
      at: 0,
      refresh: () => {
        d.at = Date.now()
        discovery.refresh({ client: true, server: announce }).catch(safetyCatch)
      }
    }
    this.discovery = d
    this.rediscovery = setInterval(() => {
      const others = this.otherIndexers()
      const wanted = this.ledger.isIndexer ? others : Math.min(others, 1)
      if (this.closing !== null || relays.writers() >= wanted) return
      log.debug('indexers not reached: looking the market up again', { reached: relays.writers() })
      d.refresh()
    }, REDISCOVER)
    this.rediscovery.unref()
  }

  /**
   * Its outbox stuck (no op final for a while), while this peer reaches fewer indexers than the market has: an
   * indexer its swarm gave up during a cut (now over) may be the way to a quorum (the soak's bot cut from idx0, whose
   * one relay left was cut from the other indexers). At most once per REDISCOVER.
   */
  private lookAgain(): void {
    const d = this.discovery
    const relays = this.relays
    if (d === null || relays === null || this.closing !== null) return
    if (Date.now() - d.at < REDISCOVER || relays.writers() >= this.otherIndexers()) return
    log.debug('ops not final, some indexers not reached: looking the market up again', {
      reached: relays.writers()
    })
    d.refresh()
  }

  /** The market's indexers (its view's signers) but this peer; unknown (Infinity) to a follower with no view yet. */
  private otherIndexers(): number {
    try {
      const signers = this.ledger.view.core.manifest?.signers.length ?? 0
      return signers - (this.ledger.isIndexer ? 1 : 0)
    } catch {
      return Infinity
    }
  }

  /** The signed view this peer reads: its key, length and tree hash (what the soak compares across peers). */
  async signedView(): Promise<{ view: string; signed: number; hash: string | null }> {
    const core = this.ledger.view.core
    const signed = this.following ? core.length : core.signedLength
    const hash = signed > 0 ? (await core.treeHash(signed)).toString('hex') : null
    return { view: core.key.toString('hex'), signed, hash }
  }

  private async openClient(): Promise<void> {
    this._client = new Client(this.ledger, {
      identity: this.opts.identity,
      writable: this.opts.writable,
      outcomeTimeout: this.opts.outcomeTimeout,
      now: () => this.now()
    })
    await this._client.ready()
  }

  protected override async _close(): Promise<void> {
    this.unprobe?.()
    if (this.rediscovery !== null) clearInterval(this.rediscovery)
    if (this.swarm !== null) {
      this.swarm.off('connection', this.onconnection)
      if (this.topic !== null && !this.swarm.destroyed)
        await leaveWithin(this.swarm, this.topic).catch(safetyCatch)
      if (this.ownSwarm) await destroySwarm(this.swarm)
    }
    if (this._client !== null) await this._client.close()
    if (this.relays !== null) this.relays.close()
    if (this._ledger !== null) await this._ledger.close()
    await this.marks?.close()
    if (this.store !== null && this.ownStore) await this.store.close()
  }

  async flushed(): Promise<void> {
    if (this.swarm !== null) await this.swarm.flush()
  }

  private async createGenesis(g: GenesisOptions): Promise<void> {
    if (this.opts.identity === null)
      throw new ScitError(
        'INVALID_ARGUMENT',
        'creating a market needs an identity to sign its genesis'
      )
    const [id] = await this.client.submit([
      {
        type: 'governance',
        body: {
          action: 'genesis',
          faucets: g.faucets,
          settlementWindow: g.settlementWindow,
          offerTtl: g.offerTtl ?? 0
        }
      }
    ])
    // The creator is the only indexer: its own append is final as soon as it is applied.
    const outcome = await this.client.outcome(id, { final: true })
    if (!outcome.accepted)
      throw new ScitError(
        'REJECTED',
        `genesis was rejected: ${outcome.reason ?? ''} ${outcome.message ?? ''}`
      )
    this.genesis = outcome
  }

  private replicate(conn: SwarmConnection): void {
    if (this._ledger === null || this.closing !== null) return
    // Connection errors are routine (the swarm reconnects): never let one crash the process.
    conn.on('error', (err: Error) =>
      log.debug('connection error', { peer: shortKey(conn.remotePublicKey), error: err.message })
    )
    this.connections.add(conn)
    conn.once('close', () => this.connections.delete(conn))
    // base.replicate: Autobase's wakeup protocol is how indexers learn of optimistic writers.
    this._ledger.replicate(conn)
    if (this.relays !== null) this.relays.attach(conn)
  }
}
