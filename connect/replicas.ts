/**
 * The replicas `scit connect` may dial (docs/ARCHITECTURE.md "Service access"): for each live trade
 * of the contract, the server key its node's signed status core names (lib/service.ts boundKey);
 * no other key is ever dialled. Re-evaluated on every update. Emits 'added', 'removed' (Replica).
 */
import ReadyResource from 'ready-resource'
import b4a from 'b4a'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import type Hyperswarm from 'hyperswarm'
import { decodeKey, encodeKey, shortKey } from '../lib/keys'
import { lookupPresence } from '../lib/presence'
import { lastStatus } from '../lib/status'
import { boundKey } from '../lib/service'
import { namedTrades, workloadFor, workloadId } from '../lib/trade-workload'
import { within } from '../lib/timeout'
import type { ContractView } from '../lib/contract'
import type { Client } from '../market/client'
import type { Trade } from '../market/types'
import safetyCatch from 'safety-catch'

export interface Replica {
  key: Buffer
  /** The key as hex, its name in maps. */
  hex: string
  node: string
  trade: string
}

export interface ReplicasOptions {
  /** A follower's client: the market's signed view. */
  client: Client
  swarm: Hyperswarm
  store: Corestore
  /** The contract core and its verified view; `bot` signed it. */
  contract: { key: Buffer; bot: Buffer; view: ContractView }
  service: { workload: string; port: number }
  /** How long one read (a presence record, a status core) may take (ms). */
  timeout: number
  /** How often what could not be read is tried again (ms). */
  refresh?: number
}

/** One live trade of the contract, and what its node's status core says of it. */
interface Holder {
  trade: Trade
  node: Buffer
  core: Hypercore | null
  replica: Replica | null
  reason: string
  /** When its status core may be looked for again (a presence lookup is a DHT query: not on every market update). */
  retry: number
  opening: boolean
  checking: Promise<void> | null
  again: boolean
}

/** A trade in one of these states is over for good. */
const ENDED: ReadonlySet<string> = new Set(['released', 'closed', 'failed', 'ended'])

export class Replicas extends ReadyResource {
  /** The keys that may be dialled now, by hex. */
  readonly keys = new Map<string, Replica>()
  /** The contract carries a stop instruction: nothing of it runs any more. */
  stopped = false
  private readonly holders = new Map<string, Holder>()
  /** Trades over for good: never read again. */
  private readonly ended = new Set<string>()
  private evaluating: Promise<void> | null = null
  private again = false
  private timer: NodeJS.Timeout | null = null
  private none = 'the market has not been read yet'
  private readonly onupdate = (): void => this.update()

  constructor(private readonly opts: ReplicasOptions) {
    super()
  }

  protected override async _open(): Promise<void> {
    this.opts.client.on('update', this.onupdate)
    this.timer = setInterval(() => this.update(), this.opts.refresh ?? 5000)
    this.timer.unref()
    this.update()
  }

  protected override async _close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer)
    this.opts.client.off('update', this.onupdate)
    // No longer holders: a status core still being looked for is closed as soon as it is found.
    const all = [...this.holders.values()]
    this.holders.clear()
    while (this.evaluating) await this.evaluating
    for (const h of all) await this.drop(h)
  }

  /** Why no key may be dialled, one line per live trade (or why there is none). */
  reasons(): string[] {
    if (this.holders.size === 0) return [this.none]
    return [...this.holders.values()]
      .filter((h) => h.replica === null)
      .map((h) => `node ${shortKey(h.node)} (trade ${h.trade.id}): ${h.reason}`)
  }

  /** Evaluate again (one evaluation at a time; one more when asked meanwhile). */
  update(): void {
    if (this.closing) return
    if (this.evaluating) {
      this.again = true
      return
    }
    this.evaluating = this.evaluate()
      .catch((err: Error) => {
        safetyCatch(err)
        this.none = err.message
      })
      .finally(() => {
        this.evaluating = null
        if (this.again && !this.closing) {
          this.again = false
          this.update()
        }
      })
  }

  private async evaluate(): Promise<void> {
    const live = await within(
      this.liveTrades(),
      this.opts.timeout,
      'the market view did not answer'
    )
    const ids = new Set(live.map((t) => t.id))
    // Every key of an ended trade leaves at once; their cores are closed after.
    const gone = [...this.holders.values()].filter((h) => !ids.has(h.trade.id))
    for (const h of gone) {
      this.holders.delete(h.trade.id)
      this.forget(h)
    }
    await Promise.all(gone.map((h) => this.drop(h)))
    // Never waits on a node's status core: a slow one must not hold back a trade that ended.
    for (const t of live) {
      let h = this.holders.get(t.id)
      if (h === undefined) {
        h = {
          trade: t,
          node: decodeKey(t.node, 'node key'),
          core: null,
          replica: null,
          reason: 'its status core is being read',
          retry: 0,
          opening: false,
          checking: null,
          again: false
        }
        this.holders.set(t.id, h)
      }
      if (h.core !== null && h.replica === null) this.check(h)
      // none yet, or its status names no key now: its node may sign on another status core (a fresh store)
      if ((h.core === null || h.replica === null) && !h.opening && Date.now() >= h.retry)
        this.open(h)
    }
  }

  /** Settled to this contract by its bot, for the workload to reach: what the market's signed view says now. */
  private async liveTrades(): Promise<Trade[]> {
    const { view, key, bot } = this.opts.contract
    const state = view.state()
    if (state.stopped) {
      this.none = `contract ${encodeKey(key)} is stopped: its bot signed a stop instruction, none of its replicas runs`
      if (!this.stopped) {
        this.stopped = true
        this.emit('stopped', this.none)
      }
      return []
    }
    const contract = encodeKey(key)
    const botKey = encodeKey(bot)
    const named = [...namedTrades(view)].filter((id) => !this.ended.has(id))
    const found =
      named.length > 0
        ? await Promise.all(named.map((id) => this.opts.client.trade(id)))
        : await this.opts.client.trades({ bot: botKey })
    const live: Trade[] = []
    for (const t of found) {
      if (t === null || t.contract !== contract || t.bot !== botKey) continue
      if (ENDED.has(t.state)) this.ended.add(t.id)
      if (t.state !== 'settled') continue
      try {
        if (workloadFor(view, state, t).name === this.opts.service.workload) live.push(t)
      } catch {
        // a trade the contract maps to no workload runs nothing
      }
    }
    this.none = `no live trade of ${this.opts.service.workload} in contract ${contract} in the market's signed view (its leases ended, or a new one is not settled yet)`
    return live
  }

  /** Find the node's status core (its signed presence record) and follow it. */
  private open(h: Holder): void {
    h.opening = true
    h.retry = Date.now() + (this.opts.refresh ?? 5000) / 2
    this.follow(h)
      .catch((err: Error) => {
        safetyCatch(err)
        h.reason = `its status core could not be opened: ${err.message}`
      })
      .finally(() => {
        h.opening = false
      })
  }

  private async follow(h: Holder): Promise<void> {
    const { timeout, store, swarm } = this.opts
    let statusCore: Buffer
    try {
      const p = await within(
        lookupPresence(swarm.dht, h.node),
        timeout,
        'its presence record was not found'
      )
      if (p === null) {
        if (h.core === null)
          h.reason = 'it has no presence record on the DHT: its status core is unknown'
        return
      }
      statusCore = p.record.statusCore
    } catch (err) {
      if (h.core === null) h.reason = (err as Error).message // else: why its status names no key
      return
    }
    if (this.holders.get(h.trade.id) !== h) return
    if (h.core !== null && b4a.equals(h.core.key, statusCore)) return
    const core = store.get({ key: statusCore })
    await core.ready()
    if (this.holders.get(h.trade.id) !== h) {
      await core.close()
      return
    }
    const old = h.core
    h.core = core
    core.on('append', () => {
      if (h.core === core) this.check(h)
    })
    // The node serves its own status core; its bot, which replicates it, may too.
    if (old === null) swarm.joinPeer(h.node)
    const done = core.findingPeers()
    swarm.flush().then(done, done)
    core.update({ wait: true }).catch(safetyCatch)
    this.check(h)
    if (old === null) return
    // a read of the old core may be under way: closed once it ended
    while (h.checking) await h.checking
    await old.close()
  }

  /** Read the node's last status of the trade and take or drop the key it names. One read at a time. */
  private check(h: Holder): void {
    if (h.checking) {
      h.again = true
      return
    }
    h.checking = this.read(h)
      .catch((err: Error) => {
        safetyCatch(err)
        h.reason = `its status core could not be read: ${err.message}`
      })
      .finally(() => {
        h.checking = null
        if (h.again && this.holders.get(h.trade.id) === h) {
          h.again = false
          this.check(h)
        }
      })
  }

  private async read(h: Holder): Promise<void> {
    const core = h.core
    if (core === null || this.closing) return
    if (core.length === 0) {
      h.reason = 'its status core has not reached this client yet'
      return
    }
    const { timeout } = this.opts
    const { record, refused } = await within(
      lastStatus(core, h.node, workloadId(h.trade), { timeout }),
      timeout * 2,
      'its status core did not download'
    )
    if (this.holders.get(h.trade.id) !== h) return
    const bound =
      record === null
        ? {
            reason:
              refused.length > 0
                ? `no verified status record of it (${refused.length} of its core's records do not verify, the last: ${refused[refused.length - 1].message})`
                : 'no status record of it yet'
          }
        : boundKey(record.body, {
            contract: this.opts.contract.key,
            trade: h.trade.id,
            workload: this.opts.service.workload,
            port: this.opts.service.port
          })
    if ('key' in bound) this.take(h, bound.key)
    else {
      h.reason = bound.reason
      this.forget(h)
    }
  }

  private take(h: Holder, key: Buffer): void {
    if (h.replica !== null && b4a.equals(h.replica.key, key)) return
    this.forget(h)
    const replica: Replica = {
      key,
      hex: b4a.toString(key, 'hex'),
      node: encodeKey(h.node),
      trade: h.trade.id
    }
    h.replica = replica
    this.keys.set(replica.hex, replica)
    this.emit('added', replica)
  }

  private forget(h: Holder): void {
    const r = h.replica
    if (r === null) return
    h.replica = null
    this.keys.delete(r.hex)
    if (!this.closing) this.emit('removed', r)
  }

  /** The trade is over (or the client closes): its key leaves, its core is closed, its node no longer sought. */
  private async drop(h: Holder): Promise<void> {
    this.forget(h)
    const core = h.core
    h.core = null
    if (![...this.holders.values()].some((o) => o !== h && b4a.equals(o.node, h.node)))
      this.opts.swarm.leavePeer(h.node)
    // Closed first: a read waiting on a block of it ends now, not at its timeout.
    if (core !== null) await core.close().catch(safetyCatch)
    while (h.checking) await h.checking
  }
}
