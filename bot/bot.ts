/**
 * The 3bot process (docs/ARCHITECTURE.md "Settlement" to "Self-healing"). One Corestore holds the ledger and every
 * contract core, so market connections to nodes replicate their contract cores too;
 * the swarm runs under the bot's identity so stakeholders and nodes know it by key.
 */
import path from 'path'
import { EventEmitter, setMaxListeners } from 'events'
import ReadyResource from 'ready-resource'
import type Corestore from 'corestore'
import Hyperswarm from 'hyperswarm'
import type { SwarmConnection } from 'hyperswarm'
import type DHT from 'hyperdht'
import type { Bootstrap } from '../lib/config'
import { createSwarm, destroySwarm } from '../lib/swarm'
import { ScitError } from '../lib/errors'
import { openOrClose, opened } from '../lib/lifecycle'
import { loadIdentity, KeyPair } from '../lib/identity'
import { openDataDir, privateDir } from '../lib/datadir'
import { openStore, FOLLOWER_LIMITS, CoreMarks } from '../lib/store'
import { encodeKey, decodeKey } from '../lib/keys'
import { logger } from '../lib/log'
import { approvalsTopic } from '../lib/topics'
import { decodeManifest, Manifest, Approval, VerificationError } from '../lib/contract'
import { MarketPeer } from '../market/peer'
import type { Client } from '../market/client'
import { NodeChannel } from '../lib/node-protocol'
import { ShardChannel, type ShardTraffic } from '../lib/archive/shard-channel'
import { JOINING, stepOf } from '../lib/stall'
import { ContractWriter } from './notary'
import { BotState, DeploymentRecord } from './records'
import { Trader, TraderOptions, TraderHooks, DEFAULT_TRADER, Progress } from './trader'
import { ApprovalChannel } from './approvals'
import { Monitor, MonitorOptions } from './monitor'
import { requirePhase, isOver } from './phase'
import safetyCatch from 'safety-catch'

const log = logger('bot')

export interface BotOptions {
  data: string
  market: Buffer
  /** null: the public HyperDHT. */
  bootstrap?: Bootstrap[] | null
  /** The bot destroys it with its swarm; else lib/swarm makes one for `bootstrap`. */
  dht?: DHT
  identity?: KeyPair
  trader?: Partial<Omit<TraderOptions, TraderHooks>>
  monitor?: Partial<MonitorOptions>
  /** ms to wait for a peer to show the market's view (Infinity: `bot run`, as long as it takes, saying so). */
  joinTimeout?: number
  /** ms an op of the bot waits for its final outcome before TIMEOUT (default 30 s; a deploy then tries again). */
  outcomeTimeout?: number
  /** What the CLI prints on stderr. */
  progress?: Progress
}

export class Bot extends ReadyResource {
  private _identity: KeyPair | null = null
  private _state: BotState | null = null
  private _store: Corestore | null = null
  /** Its contract cores' lengths, checked at start (lib/store.ts CoreMarks). */
  private marks: CoreMarks | null = null
  private _swarm: Hyperswarm | null = null
  private stage = 'opening its store'
  private _peer: MarketPeer | null = null
  private _trader: Trader | null = null
  private _monitor: Monitor | null = null
  /** 'approval' (contract id) when a signature was appended; 'progress' (step, detail, deployment id). */
  readonly events = new EventEmitter()
  readonly abort = new AbortController()
  private readonly writers = new Map<string, ContractWriter>()
  private readonly followers = new Map<string, Set<(step: string, detail: string) => void>>()
  private readonly nodeChannels = new Map<string, NodeChannel>()
  /** Archive holders' shard protocol, by node key (lib/archive/shard-channel.ts). */
  private readonly shardChannels = new Map<string, ShardChannel>()
  /** Block bytes every shard channel of this bot carried, since it opened (one count: a connection replaced by another hides nothing). */
  private readonly traffic: ShardTraffic = { stored: 0, fetched: 0 }
  private readonly approvalChannels = new Set<ApprovalChannel>()
  private readonly topics = new Set<string>()
  private readonly onconnection = (conn: SwarmConnection): void => this.attach(conn)
  /** Emits (node key) with its NodeChannel when a connection to that peer opens. */
  private readonly connected = new EventEmitter()

  constructor(readonly opts: BotOptions) {
    super()
    this.events.setMaxListeners(0)
    this.connected.setMaxListeners(0)
    // every market call waiting for an outcome listens for the bot closing: an archive's groups settle many at once
    setMaxListeners(0, this.abort.signal)
  }

  get identity(): KeyPair {
    return opened(this._identity, 'the bot')
  }
  get state(): BotState {
    return opened(this._state, 'the bot')
  }
  get store(): Corestore {
    return opened(this._store, 'the bot')
  }
  get swarm(): Hyperswarm {
    return opened(this._swarm, 'the bot')
  }
  get peer(): MarketPeer {
    return opened(this._peer, 'the bot')
  }
  /** What its start waits on now (lib/stall.ts names it when nothing is left that could finish it). */
  get step(): string {
    return stepOf(this.stage, this._peer)
  }
  get trader(): Trader {
    return opened(this._trader, 'the bot')
  }
  get monitor(): Monitor {
    return opened(this._monitor, 'the bot')
  }
  get client(): Client {
    return this.peer.client
  }
  get key(): string {
    return encodeKey(this.identity.publicKey)
  }
  get bidWindow(): number {
    return this.opts.trader?.bidWindow ?? DEFAULT_TRADER.bidWindow
  }

  /** The last line logged about each deployment (a resume retells where it stands: logged once). */
  private readonly lastLine = new Map<string, string>()

  readonly progress: Progress = (step, detail, about) => {
    this.events.emit('progress', step, detail, about)
    const line = `${step} ${detail}`
    if (about === undefined || this.lastLine.get(about) !== line)
      this.opts.progress?.(step, detail, about)
    if (about !== undefined) this.lastLine.set(about, line)
    if (about !== undefined) for (const fn of this.followers.get(about) ?? []) fn(step, detail)
    log.info(`${step}: ${detail}`)
  }

  /** Hand `fn` the progress lines about deployment `id` (a command's own, wherever it runs) until the returned call. */
  follow(id: string, fn: (step: string, detail: string) => void): () => void {
    let set = this.followers.get(id)
    if (set === undefined) this.followers.set(id, (set = new Set()))
    set.add(fn)
    return () => {
      set.delete(fn)
      if (set.size === 0 && this.followers.get(id) === set) this.followers.delete(id)
    }
  }

  protected override async _open(): Promise<void> {
    await openOrClose(
      async () => {
        this.openRecords()
        await this.joinMarket()
        this._trader = new Trader(this.client, this.state, {
          ...DEFAULT_TRADER,
          ...this.opts.trader,
          reaches: (node, timeout) => this.reaches(node, timeout),
          linked: () => this.linked(),
          // none while the contracts resume (the monitor is made after): a bid keeps its planned exclude then
          avoided: async () => (await this._monitor?.avoided()) ?? null,
          progress: this.progress,
          signal: this.abort.signal
        })
        this.stage = 'opening its contract cores'
        await this.resumeContracts()
        this._monitor = new Monitor(this, this.opts.monitor)
      },
      () => this._close()
    )
  }

  /** The identity and the records; the store below holds the keys of the bot's contract cores. */
  private openRecords(): void {
    const o = this.opts
    openDataDir(o.data)
    this._identity = o.identity ?? loadIdentity(o.data)
    this._state = new BotState(o.data).load()
    this.state.bindMarket(encodeKey(o.market))
  }

  /** Stop waiting for the market: a start in progress fails with CLOSED. */
  async cancelJoin(): Promise<void> {
    await this._peer?.cancelJoin()
  }

  /** The store, a swarm under the bot's identity, and the market peer, caught up. */
  private async joinMarket(): Promise<void> {
    const o = this.opts
    const dir = privateDir(path.join(o.data, 'bot', 'corestore'))
    this._store = openStore(dir, FOLLOWER_LIMITS)
    await this.store.ready()
    // before anything reads or appends: appending to a contract core RocksDB rolled back would fork it, and the
    // nodes that replicate it would refuse it for good
    this.marks = await CoreMarks.check(dir, this.store)
    this._swarm = o.dht
      ? new Hyperswarm({ keyPair: this.identity, dht: o.dht })
      : createSwarm({ bootstrap: o.bootstrap ?? null }, this.identity)
    this.swarm.on('connection', this.onconnection)
    this.stage = JOINING
    this._peer = new MarketPeer({
      store: this.store,
      swarm: this.swarm,
      identity: this.identity,
      market: o.market,
      announce: true,
      follow: true,
      joinTimeout: o.joinTimeout,
      outcomeTimeout: o.outcomeTimeout,
      progress: o.joinTimeout === Infinity ? (line) => log.warn(line) : undefined
    })
    await this.peer.ready()
    this.stage = 'catching up with the market'
    await this.client.synced()
  }

  /** Each live contract's core open again, served where its stakeholders sign. */
  private async resumeContracts(): Promise<void> {
    for (const d of this.state.deployments) {
      if (d.contract === null || isOver(d)) continue
      await this.writer(d)
      await this.listenApprovals(d, false)
    }
  }

  protected override async _close(): Promise<void> {
    this.abort.abort()
    // let aborted heals stop at their next wait, so no market call is left pending on a closed client
    await this._monitor?.close()
    for (const ch of this.approvalChannels) ch.close()
    for (const ch of this.nodeChannels.values()) ch.close()
    for (const ch of this.shardChannels.values()) ch.close()
    this._swarm?.off('connection', this.onconnection)
    await this._peer?.close()
    for (const w of this.writers.values()) await w.close()
    await this.marks?.close()
    if (this._swarm !== null) await destroySwarm(this._swarm)
    await this._store?.close()
  }

  private attach(conn: SwarmConnection): void {
    conn.on('error', () => {})
    const ach = ApprovalChannel.attach(conn, (contract, a) => this.receiveApproval(contract, a))
    if (ach) {
      this.approvalChannels.add(ach)
      conn.once('close', () => this.approvalChannels.delete(ach))
    }
    // every node attaches its liveness protocol on every connection: pairing ours is how we ping it
    const nch = NodeChannel.attach(conn, null)
    const sch = ShardChannel.attach(conn, null, this.traffic)
    const key = encodeKey(conn.remotePublicKey)
    this.nodeChannels.set(key, nch)
    this.shardChannels.set(key, sch)
    conn.once('close', () => {
      if (this.nodeChannels.get(key) === nch) this.nodeChannels.delete(key)
      if (this.shardChannels.get(key) === sch) this.shardChannels.delete(key)
    })
    this.connected.emit(key, nch)
  }

  /** Block bytes this bot stored on archive holders and fetched from them, since it opened. */
  shardTraffic(): ShardTraffic {
    return { ...this.traffic }
  }

  /** The shard protocol to an archive holder, once connected; null when unreached in `timeout` ms. */
  async reachShards(node: string, timeout: number): Promise<ShardChannel | null> {
    const have = this.shardChannels.get(node)
    if (have !== undefined && !have.closed) return have
    return (await this.reach(node, timeout)) === null
      ? null
      : (this.shardChannels.get(node) ?? null)
  }

  reachesMarket(): boolean {
    const relays = this._peer?.relays ?? null
    return relays === null || relays.writers() > 0
  }

  /** The peers (nodes among them) this bot holds an open connection to now. */
  linked(): Set<string> {
    return new Set([...this.nodeChannels].filter(([, ch]) => !ch.closed).map(([key]) => key))
  }

  /** Asks the swarm for a direct connection when not connected. */
  nodeChannel(node: string): NodeChannel | null {
    const ch = this.nodeChannels.get(node)
    if (ch && !ch.closed) return ch
    this.swarm.joinPeer(decodeKey(node, 'node key'))
    return null
  }

  /** Waits up to `timeout` ms for the swarm to connect; null when unreached. */
  async reach(node: string, timeout: number): Promise<NodeChannel | null> {
    const have = this.nodeChannel(node)
    if (have !== null || timeout <= 0 || this.closing) return have
    return new Promise((resolve) => {
      const done = (ch: NodeChannel | null): void => {
        clearTimeout(timer)
        this.connected.off(node, done)
        this.abort.signal.removeEventListener('abort', stop)
        resolve(ch)
      }
      const stop = (): void => done(null)
      const timer = setTimeout(stop, timeout)
      this.connected.on(node, done)
      this.abort.signal.addEventListener('abort', stop)
    })
  }

  /**
   * Whether `node` answers a ping within `timeout` ms, over the connection there is or one the swarm makes: a
   * connection a cut left open but dead (a paused node's) fails its ping. False as the bot closes.
   */
  async reaches(node: string, timeout: number): Promise<boolean> {
    const until = Date.now() + timeout
    for (;;) {
      const ch = await this.reach(node, Math.max(0, until - Date.now()))
      if (ch === null) return false
      // a connection made just in time still gets a ping's worth of waiting
      const left = Math.max(until - Date.now(), Math.min(timeout, 2000))
      const ok = await ch.ping({ timeout: left }).then(
        () => true,
        () => false
      )
      // a ping lost with its connection (one a restart or a cut of the node left behind, closed only now) says
      // nothing of the node: the swarm's next connection gets the time left (the soak, seed 2700: a heal gave up on
      // a node restarted 8 s before, 3.5 s into its 10 s)
      if (ok || !ch.closed || this.closing || Date.now() >= until) return ok
    }
  }

  /** Created (with its core) on first use. */
  async writer(d: DeploymentRecord): Promise<ContractWriter> {
    const have = this.writers.get(d.id)
    if (have) return have
    const w = new ContractWriter({ store: this.store, identity: this.identity, contractId: d.id })
    await w.ready()
    this.marks?.track(w.core) // its length only: an audit would read every file it carries at each start
    this.writers.set(d.id, w)
    if (d.contract === null) {
      d.contract = encodeKey(w.key)
      this.state.save()
    }
    return w
  }

  manifestOf(d: DeploymentRecord): Manifest {
    return decodeManifest(Buffer.from(d.manifest, 'hex'))
  }

  /** Serve the contract core on the contract's approvals topic: stakeholders sign there, `approvals` reads there. */
  async listenApprovals(d: DeploymentRecord, flush = true): Promise<void> {
    if (d.contract === null || this.topics.has(d.contract)) return
    this.topics.add(d.contract)
    const discovery = this.swarm.join(approvalsTopic(decodeKey(d.contract)), {
      server: true,
      client: false
    })
    // announced before the bot says "sign now", so a stakeholder's first lookup finds it
    if (flush) await discovery.flushed()
  }

  async stopListening(d: DeploymentRecord): Promise<void> {
    if (d.contract === null || !this.topics.delete(d.contract)) return
    await this.swarm.leave(approvalsTopic(decodeKey(d.contract))).catch(safetyCatch)
  }

  /** Append a stakeholder's signature if every node would accept it. */
  private async receiveApproval(
    contract: Buffer,
    a: Approval
  ): Promise<{ weight: number; threshold: number }> {
    const d = this.state.deployments.find((x) => x.contract === encodeKey(contract))
    if (!d) throw new ScitError('NOT_FOUND', `this bot holds no contract ${encodeKey(contract)}`)
    requirePhase(d, 'approve')
    const w = await this.writer(d)
    const current = w.view.current
    if (!a.manifestHash.equals(current.hash))
      throw new VerificationError(
        'wrong-manifest',
        `the signature is for manifest ${a.manifestHash.toString('hex')}, the contract's manifest in force is ${current.hash.toString('hex')}`
      )
    const signed = w.view.approvals.get(current.hash.toString('hex'))
    if (!signed?.has(a.stakeholder.toString('hex'))) await w.appendApproval(a)
    const weight = w.view.approvedWeight(current.hash)
    const threshold = current.manifest.stakeholders.threshold
    this.progress(
      'approval',
      `${d.id}: ${a.role} ${encodeKey(a.stakeholder).slice(0, 8)} signed, weight ${weight} of ${threshold}`,
      d.id
    )
    this.events.emit('approval', d.id)
    return { weight, threshold }
  }
}
