/**
 * The 3node daemon (docs/ARCHITECTURE.md "Presence", "Execution"): sells this machine's capacity and
 * runs each trade bought from it as a Lease. It keeps no state of its own: a node killed with -9
 * resumes from the ledger and its cores, re-verifying each file before exec.
 * Emits 'event' (name, detail): a lease taken or ended, a workload's transition, pay claimed.
 */
import path from 'path'
import ReadyResource from 'ready-resource'
import type Corestore from 'corestore'
import Hyperswarm from 'hyperswarm'
import type { SwarmConnection } from 'hyperswarm'
import type DHT from 'hyperdht'
import type { Bootstrap } from '../lib/config'
import { ScitError, isScitError, storeDamage } from '../lib/errors'
import { raceTimeout } from '../lib/timeout'
import { JOINING, stepOf } from '../lib/stall'
import { openOrClose, opened } from '../lib/lifecycle'
import { createSwarm, destroySwarm } from '../lib/swarm'
import { openDataDir, allowTraverse, privateDir } from '../lib/datadir'
import { openStore, NODE_LIMITS, CoreMarks } from '../lib/store'
import { loadIdentity, KeyPair } from '../lib/identity'
import { decodeKey, encodeKey } from '../lib/keys'
import { logger } from '../lib/log'
import { formatResources, type Resources } from '../lib/resources'
import { readCore } from '../lib/status'
import type { StatusRecord } from '../lib/node-messages'
import { workloadId, TradeRefusal } from '../lib/trade-workload'
import { MarketPeer } from '../market/peer'
import { HyperbeeView } from '../market/hyperbee-view'
import { listTrades } from '../market/queries'
import type { Trade } from '../market/types'
import { checkSandbox } from './sandbox'
import { reapStaleSandboxes } from './stale-sandboxes'
import { Supervisor, SupervisorOptions } from './supervisor'
import { Services } from './services'
import { mayConnect } from '../lib/access'
import { serviceKeyPair } from '../lib/service'
import { StatusCore, summarize, RecordFrom } from './status'
import { Presence } from './presence'
import { writeStatusFile, readStatusFile, StatusFile, StatusFileLease } from './status-file'
import { NodeChannel, NodeHandler } from '../lib/node-protocol'
import { checkTrade, refusalState } from './contracts'
import { Lease, LeaseContext } from './lease'
import { ShardPeers } from './archive-peers'
import { Payouts } from './payout'
import { StateKeepers } from './state-keepers'
import { JobResults, readResultsFile } from './results'
import type { Transition } from './workload'
import { MiB } from '../lib/resources'
import { caughtUp, checkOffer, keepOffer, offerBody, withdrawOffer, OfferFlags } from './offer'

const log = logger('node')
/** A stopping node waits this long for its withdrawal to be final, then stops anyway. */
export const WITHDRAW_TIMEOUT = 5000
/** How often a node in a market without offer TTL checks that its offer is still on the market. */
const KEEP_INTERVAL = 30_000
/** How long a stopping node waits for a scan or lease step in progress. */
const CLOSE_WAIT = 5000
/** A job's output is kept up to the lease's disk, or this much when it bought none. */
const RESULT_FLOOR = 16 * MiB
const GONE: ReadonlySet<Trade['state']> = new Set(['released', 'closed', 'failed', 'ended'])

/** What the node sells (OfferFlags: capacity, prices, location, lease bounds), and how it runs. */
export interface NodeOptions extends OfferFlags {
  data: string
  market: Buffer
  /** null: the public HyperDHT. */
  bootstrap?: Bootstrap[] | null
  /** A DHT node to use (tests: one of the local testnet); the daemon destroys it with its swarm. */
  dht?: DHT
  /** Where work dirs live; the sandbox uid must be able to traverse it. Default <data>/workloads. */
  workloads?: string
  unsafeNoSandbox?: boolean
  supervisor?: Partial<SupervisorOptions>
  /** Claim the leases' pay every … ms (0: never). Default 10 minutes. */
  claimInterval?: number
  /** ms an op of the node (its offer at start) waits to be decided before it goes on, sending it again. Default 30 s. */
  outcomeTimeout?: number
}

export class NodeDaemon extends ReadyResource {
  private _identity: KeyPair | null = null
  private _store: Corestore | null = null
  private _swarm: Hyperswarm | null = null
  private _peer: MarketPeer | null = null
  private _status: StatusCore | null = null
  /** Its own cores' lengths, checked at start (lib/store.ts CoreMarks). */
  private marks: CoreMarks | null = null
  private stage = 'checking its offer, data dir and sandbox'
  private _supervisor: Supervisor | null = null
  private _presence: Presence | null = null
  private _payouts: Payouts | null = null
  private _services: Services | null = null
  private _stateKeepers: StateKeepers | null = null
  /** Jobs' outputs, kept for their bots past their leases (node/results.ts). */
  private _results: JobResults | null = null
  private renewal: NodeJS.Timeout | null = null
  private withdrawing = false
  /** Damage found in the store while running (checkStore), or null. */
  damaged: Error | null = null
  private readonly channels = new Set<NodeChannel>()
  /** The shard protocol of archive leases (node/archive-peers.ts). */
  private shardPeers: ShardPeers | null = null
  private readonly leases = new Map<string, Lease>()
  private finished = new Set<string>()
  /** Trades the node saw but may not act on (yet), by workload id: what its status records name, and the last reason given. */
  private readonly held = new Map<
    string,
    { trade: string; contract: Buffer | null; reason: string }
  >()
  private unwatch: (() => void) | null = null
  private scanning: Promise<void> | null = null
  private rescan = false
  private readonly onupdate = (): void => {
    this.scan()
  }

  constructor(readonly opts: NodeOptions) {
    super()
  }

  get identity(): KeyPair {
    return opened(this._identity, 'the node')
  }
  get store(): Corestore {
    return opened(this._store, 'the node')
  }
  get swarm(): Hyperswarm {
    return opened(this._swarm, 'the node')
  }
  get peer(): MarketPeer {
    return opened(this._peer, 'the node')
  }
  get status(): StatusCore {
    return opened(this._status, 'the node')
  }
  get supervisor(): Supervisor {
    return opened(this._supervisor, 'the node')
  }
  get presence(): Presence {
    return opened(this._presence, 'the node')
  }
  get payouts(): Payouts {
    return opened(this._payouts, 'the node')
  }
  /** The DHT servers of the services this node runs (node/services.ts). */
  get services(): Services {
    return opened(this._services, 'the node')
  }
  get stateKeepers(): StateKeepers {
    return opened(this._stateKeepers, 'the node')
  }
  get results(): JobResults {
    return opened(this._results, 'the node')
  }
  get key(): string {
    return encodeKey(this.identity.publicKey)
  }
  /** What its start waits on now (lib/stall.ts names it when nothing is left that could finish it). */
  get step(): string {
    return stepOf(this.stage, this._peer)
  }

  /**
   * Damage RocksDB finds in the store while the node runs (replication reading a table, a compaction that then
   * stops every write) reaches only a connection's error: a start waiting for a write hung forever. Said once, as
   * 'damaged'; `scit node start` then stops with CORRUPT.
   */
  private checkStore(err: Error): void {
    const damage = storeDamage(err)
    if (damage === null || this.damaged !== null) return
    this.damaged = damage
    log.error('the store is damaged on disk', { error: damage.message })
    this.emit('damaged', damage)
  }

  /** Everything checked locally first (the offer, the sandbox), so that a node that cannot sell or run anything offers nothing. */
  protected override async _open(): Promise<void> {
    await openOrClose(
      async () => {
        const { data, workloads } = this.checkLocally()
        this.stage = 'opening its store'
        await this.openStatus()
        // the store's lock is held: no other run of this data dir is alive to own these
        await reapStaleSandboxes(workloads)
        this.startSupervisor(workloads)
        this.stage = JOINING
        await this.joinMarket(data)
        this.stage = 'offering its capacity'
        await this.sell()
        this.stage = 'announcing its presence'
        await this.announce()
        this._payouts = new Payouts({
          client: this.peer.client,
          node: this.key,
          interval: this.opts.claimInterval
        })
        this.payouts.on('claimed', (outcomes: Array<{ accepted: boolean }>) => {
          const n = outcomes.filter((o) => o.accepted).length
          if (n > 0)
            this.emit('event', 'claimed', `${n} ${n === 1 ? 'lease' : 'leases'} paid up to now`)
        })
        this.payouts.start()
        this.followLedger()
        this.writeStatus()
        log.info('node running', { key: this.key, capacity: this.opts.capacity })
      },
      () => this._close()
    )
  }

  /** The offer, the data dir, the identity and the sandbox: what this machine can say without the network. */
  private checkLocally(): { data: string; workloads: string } {
    const o = this.opts
    checkOffer(offerBody(o))
    const data = openDataDir(o.data)
    holdsNoLeasesElsewhere(data, encodeKey(o.market))
    readResultsFile(data) // a damaged one is refused here, before the network
    const workloads = path.resolve(o.workloads ?? path.join(data, 'workloads'))
    // Root runs workloads as another uid, which must pass through the data dir when its work dirs are inside.
    if (process.getuid?.() === 0 && workloads.startsWith(data + path.sep)) allowTraverse(data)
    this._identity = loadIdentity(o.data)
    if (o.unsafeNoSandbox) {
      log.warn(
        '!!! --unsafe-no-sandbox: workloads run WITHOUT isolation. Development only: never sell capacity like this !!!'
      )
      return { data, workloads }
    }
    try {
      checkSandbox(workloads)
    } catch (err) {
      if (!(err instanceof ScitError)) throw err
      throw new ScitError(
        'SANDBOX',
        `${err.message}; refusing to run workloads, so offering nothing (--unsafe-no-sandbox is for development only)`
      )
    }
    return { data, workloads }
  }

  /** The store and the status core; a job that already exited stays done across restarts, as the core says. */
  private async openStatus(): Promise<void> {
    const dir = privateDir(path.join(this.opts.data, 'corestore'))
    this._store = openStore(dir, NODE_LIMITS)
    await this.store.ready()
    // before anything reads, serves or appends: a store RocksDB opened on an older state is refused here
    this.marks = await CoreMarks.check(dir, this.store)
    this._status = new StatusCore(this.store.namespace('scit/node'), this.identity)
    await this.status.ready()
    this.marks.track(this.status.status, { whole: true })
    this.marks.track(this.status.logs) // its old blocks are cleared: its length only
    const { records } = await readCore<StatusRecord>(
      this.status.status,
      this.identity.publicKey,
      'status',
      { wait: false }
    )
    const exited = summarize(records).filter((w) => w.state === 'exited')
    this.finished = new Set(exited.map((w) => w.workload))
  }

  /** Every transition is signed into the status core, and moves the service's DHT servers and the status file. */
  private startSupervisor(workloads: string): void {
    const identity = this.identity
    const supervisor = new Supervisor({
      root: workloads,
      unsafeNoSandbox: this.opts.unsafeNoSandbox,
      serviceKey: (id, port) => serviceKeyPair(identity, id, port).publicKey,
      ...this.opts.supervisor
    })
    this._supervisor = supervisor
    supervisor.on('transition', (t) => {
      if (t.state === 'stopped' || t.state === 'exited' || t.state === 'failed')
        this._stateKeepers?.stopped(t.id)
      this.status
        .record(t, this.recordFrom(t))
        .catch((err) => log.warn('status record failed', { err: (err as Error).message }))
      if (t.state === 'exited') this.finished.add(t.id)
      this.emit('event', 'workload', `${t.id} ${t.state}${t.reason ? `: ${t.reason}` : ''}`)
      this._services?.sync(t.id, this.leases.get(t.id), supervisor)
      this.writeStatus()
    })
    supervisor.on('log', (e) => this.status.output(e.id, e.stream, e.data))
  }

  /** The swarm under the node's identity, the services' DHT servers, the market peer, the state keepers. */
  private async joinMarket(data: string): Promise<void> {
    const o = this.opts
    this._swarm = o.dht
      ? new Hyperswarm({ keyPair: this.identity, dht: o.dht })
      : createSwarm({ bootstrap: o.bootstrap ?? null }, this.identity)
    this.shardPeers = new ShardPeers(this.swarm, () =>
      [...this.leases.values()].flatMap((l) => (l.shards === null ? [] : [l.shards]))
    )
    this.swarm.on('connection', (conn: SwarmConnection) => this.onconnection(conn))
    this._services = new Services(this.swarm.dht, this.identity, path.join(data, 'sockets'))
    this._peer = new MarketPeer({
      store: this.store,
      swarm: this.swarm,
      identity: this.identity,
      market: o.market,
      announce: true,
      follow: true,
      // A daemon outlives a market that is slow to answer: it waits, and says so.
      joinTimeout: Infinity,
      outcomeTimeout: o.outcomeTimeout,
      progress: (line) => log.warn(line)
    })
    await this.peer.ready()
    this._results = new JobResults({
      store: this.store.namespace('scit/node'),
      identity: this.identity,
      data: o.data
    })
    this._results.start()
    this._stateKeepers = new StateKeepers({
      store: this.store,
      swarm: this.swarm,
      identity: this.identity,
      data: o.data,
      trade: (id) => this.peer.client.trade(id)
    })
  }

  /**
   * Offer the capacity; in a market with an offer TTL, renew it three times per TTL, so one lost renewal costs
   * nothing. Without a TTL, look every KEEP_INTERVAL that the market still has this offer: an offer not decided at
   * start may yet be refused (a withdrawal this node sent as it stopped, decided after it).
   */
  private async sell(): Promise<void> {
    const client = this.peer.client
    const body = offerBody(this.opts)
    await caughtUp(client)
    const ttl = (await client.genesis())?.offerTtl ?? 0
    const stopped = (): boolean => this.withdrawing
    await keepOffer(client, this.key, body, { renew: ttl > 0, stopped }).catch((err) => {
      // Not refused, only not decided yet (an indexer slow or unreachable): the outbox sends it again.
      if (!isScitError(err, 'TIMEOUT')) throw err
      log.warn('the offer is not decided yet: it is kept and sent again', {
        error: (err as Error).message
      })
    })
    const renew = (): void => {
      keepOffer(client, this.key, body, { renew: ttl > 0, stopped }).catch((err) =>
        log.warn('offer renewal failed', { error: (err as Error).message })
      )
    }
    this.renewal = setInterval(renew, ttl > 0 ? Math.max(1000, Math.floor(ttl / 3)) : KEEP_INTERVAL)
    this.renewal.unref()
  }

  /** The signed presence record on the DHT: what anyone finds without reading the ledger. */
  private async announce(): Promise<void> {
    const o = this.opts
    const offer = await this.peer.client.offer(this.key)
    this._presence = new Presence({
      swarm: this.swarm,
      identity: this.identity,
      record: {
        market: o.market,
        resources: o.capacity,
        free: offer?.available ?? o.capacity,
        prices: o.prices,
        country: o.country,
        city: o.city,
        attributes: o.attributes,
        statusCore: this.status.status.key,
        logCore: this.status.logs.key
      }
    })
    await this.presence.ready()
  }

  /** Re-scan the trades on every ledger update. */
  private followLedger(): void {
    const client = this.peer.client
    client.on('update', this.onupdate)
    this.unwatch = () => client.off('update', this.onupdate)
    this.scan()
  }

  /**
   * Take the offer off the market (a clean stop): nothing new is sold, the
   * running leases go on. Waits at most `timeout` ms for the withdrawal to
   * be final; returns whether it was.
   */
  async withdraw(timeout = WITHDRAW_TIMEOUT): Promise<boolean> {
    if (!this.opened || this.closing) return false
    // no renewal (nor a retry of one) may post the offer again after the withdrawal
    this.withdrawing = true
    if (this.renewal !== null) clearInterval(this.renewal)
    this.renewal = null
    return await withdrawOffer(this.peer.client, this.key, timeout)
  }

  /**
   * Stop the node, also while it still starts: a start waiting for its market (as long as it
   * takes) ends when the market follower closes, and what it opened closes with it.
   */
  async stop(): Promise<void> {
    if (!this.opened && this.opening !== null) {
      await this._peer?.cancelJoin()
      // its start ends with CLOSED (the market it waited for is gone): expected, the stop is what was asked
      await this.opening.catch((err) => log.info('start stopped', { err: (err as Error).message }))
    }
    await this.close()
  }

  protected override async _close(): Promise<void> {
    if (this.renewal !== null) clearInterval(this.renewal)
    // not this.peer.client: a peer that never joined its market has none, and throwing here left the swarm up
    this.unwatch?.()
    const leases = [...this.leases.values()]
    await Promise.all(leases.map((l) => l.interrupt()))
    // A scan reads the market view: with no peer left, a read waits for one. Closing the store below ends it;
    // waiting for it first would never stop a node whose market is gone.
    await raceTimeout(Promise.all([this.scanning, ...leases.map((l) => l.queue)]), CLOSE_WAIT)
    await this._services?.close()
    await this._supervisor?.close()
    // after the services stopped, before the swarm goes: their last snapshots, handed to a peer
    await this._stateKeepers?.close()
    await this._results?.close()
    await this._payouts?.close()
    await this._presence?.close()
    for (const ch of this.channels) ch.close()
    this.shardPeers?.close()
    await this._peer?.close()
    if (this._swarm !== null) await destroySwarm(this._swarm)
    await this._status?.close()
    await this.marks?.close()
    await this._store?.close()
    if (this._identity) this.writeStatus(false)
  }

  /**
   * What a transition's status record names: its contract, trade, service and state core.
   * A job that exited with an output first has it kept (node/results.ts), so the record
   * names the core that holds it next to its digest.
   */
  private async recordFrom(t: Transition): Promise<RecordFrom> {
    const lease = this.leases.get(t.id)
    const held = this.held.get(t.id)
    const spec = this.supervisor.get(t.id)?.spec
    let kept: Buffer | null = null
    if (lease && t.state === 'exited' && t.output !== null && spec?.output) {
      const disk = lease.trade.resources.ssd + lease.trade.resources.hdd
      kept = await this.results
        .capture(t.id, lease.contract, this.supervisor.workDir(t.id), {
          output: spec.output,
          limit: Math.max(disk, RESULT_FLOOR),
          retain: lease.retain
        })
        .catch((err) => {
          log.warn('could not keep the output', { id: t.id, err: (err as Error).message })
          return null
        })
    }
    if (lease)
      return {
        contract: lease.contract,
        trade: lease.trade.id,
        state: kept ?? this._stateKeepers?.key(t.id) ?? this._results?.key(t.id),
        service: lease.workload
      }
    return held ? { contract: held.contract ?? undefined, trade: held.trade } : {}
  }

  /** May `key` connect to the ports of workload `id` now (its contract, as last verified here)? */
  allows(id: string, key: Buffer): boolean {
    return mayConnect(this.leases.get(id)?.access, key)
  }

  private free: Resources | null = null
  private leased: StatusFileLease[] = []

  /** Write the status file (atomic rename); `running` false marks a clean stop. */
  private writeStatus(running = true): void {
    if (this._status === null) return
    const file: StatusFile = {
      key: this.key,
      market: encodeKey(this.opts.market),
      pid: running ? process.pid : null,
      capacity: this.opts.capacity,
      free: this.free,
      statusCore: encodeKey(this.status.status.key),
      updated: Date.now(),
      workloads: (this._supervisor?.list() ?? []).map((w) => ({
        workload: w.spec.id,
        state: w.state,
        reason: w.reason,
        restarts: w.restarts,
        trade: this.leases.get(w.spec.id)?.trade.id ?? null
      })),
      leases: this.leased
    }
    try {
      writeStatusFile(this.opts.data, file)
    } catch (err) {
      log.warn('could not write the status file', { err: (err as Error).message })
    }
  }

  private onconnection(conn: SwarmConnection): void {
    conn.on('error', (err: Error) => this.checkStore(err))
    log.debug('peer connected', { peer: encodeKey(conn.remotePublicKey).slice(0, 8) })
    const ch = NodeChannel.attach(conn, this.handler())
    this.channels.add(ch)
    conn.once('close', () => this.channels.delete(ch))
    this.shardPeers?.attach(conn)
  }

  private handler(): NodeHandler {
    return {
      node: this.identity.publicKey,
      statusCore: this.status.status.key,
      logCore: this.status.logs.key,
      workloads: () =>
        this.supervisor.list().map((w) => ({
          id: w.spec.id,
          kind: w.spec.kind,
          state: w.state,
          reason: w.reason,
          since: w.since,
          restarts: w.restarts,
          ports: w.ports
        })),
      held: (key) => {
        for (const l of this.leases.values()) {
          if (l.core.key.equals(key)) return l.core
          if (l.source?.key.equals(key)) return l.source
          const shard = l.shards?.held(key) ?? null
          if (shard !== null) return shard
        }
        return null
      }
    }
  }

  /** Re-derive what should run from the ledger. Coalesces: one scan at a time, one more if asked meanwhile. */
  private scan(): void {
    if (this.scanning) {
      this.rescan = true
      return
    }
    this.scanning = this.scanOnce()
      .catch((err) => log.warn('scan failed', { err: (err as Error).message }))
      .finally(() => {
        this.scanning = null
        if (this.rescan && !this.closing) {
          this.rescan = false
          this.scan()
        }
      })
  }

  private async scanOnce(): Promise<void> {
    const final = await this.finalTrades()
    const trades = await this.peer.client.trades({ node: this.key })
    const leased = trades
      .filter((t) => t.state === 'settled')
      .map((t) => ({
        trade: t.id,
        bot: t.bot,
        contract: t.contract,
        resources: t.resources,
        price: t.price,
        start: t.start,
        end: t.end
      }))
    if (JSON.stringify(leased) !== JSON.stringify(this.leased)) {
      this.leased = leased
      this.writeStatus()
    }
    for (const trade of trades) {
      const id = workloadId(trade)
      const lease = this.leases.get(id)
      if (GONE.has(trade.state)) {
        this.held.delete(id)
        this._results?.ended(id)
        if (lease && !lease.ended)
          this.emit('event', 'lease-end', `${trade.id}: trade ${trade.state}`)
        lease?.end(`trade ${trade.state}`)
        continue
      }
      if (lease) continue
      let f: Trade
      try {
        f = checkTrade(final.get(trade.id) ?? null, this.key)
      } catch (err) {
        // A bid that just matched is not for the node to act on yet; a settled trade it may not run is, and it says why.
        if (trade.state === 'settled' && err instanceof TradeRefusal) this.hold(id, trade, err)
        continue // a later update (indexers ordering the settle) brings it
      }
      this.held.delete(id)
      await this.openLease(id, f)
    }
    const offer = await this.peer.client.offer(this.key)
    if (offer && this._presence?.opened) {
      this.free = offer.available
      if (await this.presence.update({ free: offer.available })) this.writeStatus()
    }
  }

  /**
   * Record, once per reason, why a settled trade does not run: not final yet
   * (the market's indexers have not ordered its settlement: it runs once they
   * have, so it is still being verified), or not this node's (refused).
   */
  private hold(id: string, trade: Trade, err: TradeRefusal): void {
    const waiting = refusalState(err) === 'verifying'
    const reason = waiting
      ? `not-final: trade ${trade.id} is settled, but the settlement is not final in the ledger yet (a quorum of the market's indexers has not ordered it); nothing runs until it is`
      : err.message
    if (this.held.get(id)?.reason === reason) return
    let contract: Buffer | null = null
    try {
      contract = trade.contract === null ? null : decodeKey(trade.contract, 'contract core')
    } catch {}
    this.held.set(id, { trade: trade.id, contract, reason })
    this.supervisor.note(id, waiting ? 'verifying' : 'refused', reason)
  }

  private async finalTrades(): Promise<Map<string, Trade>> {
    const snap = this.peer.ledger.finalCheckout()
    try {
      return new Map(
        (await listTrades(HyperbeeView.reading(snap), { node: this.key })).map((t) => [t.id, t])
      )
    } finally {
      await snap.close()
    }
  }

  private async openLease(id: string, trade: Trade): Promise<void> {
    const lease = await Lease.open(this.leaseContext(), id, trade)
    // In the map before it records anything: the status records of its workload name its trade and contract.
    this.leases.set(id, lease)
    const until = trade.end === null ? 'no end' : `until ${new Date(trade.end).toISOString()}`
    this.emit(
      'event',
      'lease',
      `${trade.id}: bot ${trade.bot.slice(0, 8)}, ${formatResources(trade.resources)} at ${trade.price}/h, ${until}, contract ${(trade.contract ?? '').slice(0, 8)}`
    )
    lease.follow()
  }

  private leaseContext(): LeaseContext {
    return {
      store: this.store,
      swarm: this.swarm,
      supervisor: this.supervisor,
      data: this.opts.data,
      finished: (id) => this.finished.has(id),
      closing: () => this.closing !== null,
      accessChanged: (id) => this.emit('access', id),
      stateKeepers: this.stateKeepers,
      trade: (id) => this.peer.client.trade(id),
      reachShards: async (node, timeout) => (await this.shardPeers?.reach(node, timeout)) ?? null
    }
  }
}

/** A node's leases are on one market: started on another, it would stop serving them unpaid for the rest. */
function holdsNoLeasesElsewhere(data: string, market: string): void {
  const last = readStatusFile(data)
  if (last?.market === undefined || last.market === market) return
  const live = (last.leases ?? []).filter((l) => l.end === null || l.end > Date.now())
  if (live.length === 0) return
  throw new ScitError(
    'INVALID_CONFIG',
    `the node in ${data} has ${live.length} ${live.length === 1 ? 'lease' : 'leases'} on market ${last.market} (${live
      .slice(0, 3)
      .map((l) => l.trade)
      .join(
        ', '
      )}): started on market ${market} it would abandon them; run it on ${last.market} until they end, or give the other market its own --data`
  )
}
