/**
 * One lease (docs/ARCHITECTURE.md "Execution"): a final, settled trade whose contract core is followed,
 * and whose workload is made to match it after every append, each step re-verifying the whole
 * contract, one at a time. Nothing of it matters across restarts.
 */
import path from 'path'
import type Corestore from 'corestore'
import type Hyperswarm from 'hyperswarm'
import type Hypercore from 'hypercore'
import type { Discovery } from 'hyperswarm'
import { decodeKey } from '../lib/keys'
import { approvalsTopic } from '../lib/topics'
import { logger } from '../lib/log'
import { kindEntry, type Runner } from '../lib/workload-kinds'
import type { AccessList } from '../lib/access'
import type { Trade } from '../market/types'
import type { Supervisor } from './supervisor'
import type { StateKeepers } from './state-keepers'
import {
  verifyContract,
  stageFiles,
  placeFiles,
  pruneStaging,
  specFor,
  refusalState,
  type Verified
} from './contracts'
import { MirrorKeeper } from './mirror'
import { ShardKeeper } from './archive-keeper'
import type { ShardChannel } from '../lib/archive/shard-channel'
import safetyCatch from 'safety-catch'

const log = logger('node')
/** A lease held back for a passing reason (a file or snapshot not fetched yet) is evaluated again after this long (ms). */
const RETRY = 15_000
/** A fetch signs its progress this often (ms) at most. */
const FETCH_NOTE = 2000

/** What a lease uses of its daemon. */
export interface LeaseContext {
  store: Corestore
  swarm: Hyperswarm
  supervisor: Supervisor
  /** The node's data dir: a workload's files are staged under <data>/files/<id>. */
  data: string
  /** Did this job already exit (the status core says so)? Then it stays done across restarts. */
  finished(id: string): boolean
  /** Is the daemon closing? Then what runs is left as it is. */
  closing(): boolean
  /** The contract was verified again: who may connect to the lease's service may have changed. */
  accessChanged?(id: string): void
  /** The replicas' state cores (node/state-keeper.ts). */
  stateKeepers: StateKeepers
  /** A trade as the market's view has it (an archive asks which node holds a shard). */
  trade(id: string): Promise<Trade | null>
  /** The shard protocol to another node, once connected; null after `timeout` ms. */
  reachShards(node: Buffer, timeout: number): Promise<ShardChannel | null>
}

export class Lease {
  readonly contract: Buffer
  /** Steps queued so far; resolves once they are done. */
  queue: Promise<void> = Promise.resolve()
  /** kind mirror with a source: the core it keeps besides the contract core. */
  source: Hypercore | null = null
  /** kind archive: the keeper of its shard, fed the catalog on every append. */
  shards: ShardKeeper | null = null
  /** kind archive: the whole contract core, kept as it grows, so the catalog outlives its bot's machine. */
  private catalogRange: { destroy(): void } | null = null
  /** The trade is over and its workload released: later scans leave it alone. */
  ended = false
  /** The manifest's name of this lease's workload, once the contract verified. */
  workload: string | null = null
  /** How long a job's output is kept after the lease (its manifest's `retain`). */
  retain = 0
  /** Who may connect to its ports, as of the last verified state of the contract (null: nobody). */
  access: AccessList | null = null
  /** Serving the contract core on its topic, for whoever reads it while its bot is offline. */
  private serving: Discovery | null = null
  private deployed = -1
  private readonly deployers: Record<Runner, (v: Verified, seq: number) => Promise<void>> = {
    process: (v, seq) => this.deployProcess(v, seq),
    keeper: (v, seq) => this.deployKeeper(v, seq),
    shards: (v, seq) => this.deployShards(v, seq)
  }
  /** Verification and file fetches read through their own session, which closing the daemon closes: a read waiting for a
   * peer that is gone (a bot offline mid-deploy) then fails at once instead of holding the node's shutdown forever. */
  private readonly reader: Hypercore
  /** The last refusal recorded while a version runs (update seq and reason): recorded once, retried on every append. */
  private refusal: string | null = null
  /** The next evaluation of a lease held back for a passing reason: appends are not the only thing that cures one. */
  private retry: NodeJS.Timeout | null = null
  /** The last reason noted for not running: said once, however often it is tried again. */
  private said: string | null = null

  private constructor(
    private readonly ctx: LeaseContext,
    readonly id: string,
    readonly trade: Trade,
    readonly core: Hypercore
  ) {
    this.contract = core.key
    this.reader = core.session()
  }

  /** Open the contract core of a final, settled trade; `follow` starts acting on it. */
  static async open(ctx: LeaseContext, id: string, trade: Trade): Promise<Lease> {
    const core = ctx.store.get({ key: decodeKey(trade.contract ?? '', 'contract core') })
    await core.ready()
    return new Lease(ctx, id, trade, core)
  }

  /** Verify the contract now and on every append, looking for the core's peers. */
  follow(): void {
    // A job that finished before a restart keeps its signed exit as its last word: its bot ends the lease at it.
    if (!this.ctx.finished(this.id))
      this.ctx.supervisor.note(
        this.id,
        'verifying',
        `trade ${this.trade.id} is final: verifying contract ${this.trade.contract ?? ''}`
      )
    this.core.on('append', () => this.enqueue(() => this.evaluate()))
    this.serving = this.ctx.swarm.join(approvalsTopic(this.contract), {
      server: true,
      client: false
    })
    const done = this.core.findingPeers()
    this.ctx.swarm.flush().then(done, done)
    this.core.update({ wait: true }).catch(safetyCatch)
    this.enqueue(() => this.evaluate())
  }

  /** The daemon is closing: end the reads its steps wait on, so `queue` settles. */
  async interrupt(): Promise<void> {
    this.cancelRetry()
    await this.reader.close()
  }

  /** The trade is over: release its workload, once. */
  end(reason: string): void {
    if (this.ended) return
    this.ended = true
    this.cancelRetry()
    this.enqueue(() => this.stop(reason))
  }

  private cancelRetry(): void {
    if (this.retry !== null) clearTimeout(this.retry)
    this.retry = null
  }

  private enqueue(fn: () => Promise<void>): void {
    this.queue = this.queue
      .then(fn)
      .catch((err) => log.warn('lease step failed', { err: (err as Error).message }))
  }

  /** Verify the contract as it is now and make the workload match it. Idempotent. */
  private async evaluate(): Promise<void> {
    const { id, ctx } = this
    const supervisor = ctx.supervisor
    if (ctx.closing() || this.core.length === 0) return
    let v
    try {
      v = await verifyContract(this.reader, this.trade)
    } catch (err) {
      const reason = (err as { reason?: string }).reason
      if (reason === 'no-header') return // the core has not reached us yet: its next append re-runs this
      this.setAccess(null)
      if (supervisor.active(id)) await supervisor.stop(id, 'contract no longer verifies')
      this.hold(err)
      return
    }
    this.workload = v.workload.name
    this.retain = v.workload.retain
    this.setAccess(v.state.access[v.workload.name] ?? null)
    const deploy = v.state.deploy
    if (!deploy) return
    const want = !v.state.stopped && this.trade.replica < (v.state.replicas[v.workload.name] ?? 0)
    if (!want) {
      if (supervisor.active(id))
        await supervisor.stop(id, v.state.stopped ? 'contract stop instruction' : 'scaled down', {
          release: true
        })
      return
    }
    if (v.catalog !== null) this.shards?.sync(v.catalog)
    // One launch per deploy instruction: restarts after that follow the workload's restart policy, not core appends.
    if (this.deployed === deploy.seq) return
    const kind = kindEntry(v.workload.kind)
    if (kind.finishes && ctx.finished(id) && this.deployed === -1) {
      this.deployed = deploy.seq
      return
    }
    await this.deployers[kind.runner](v, deploy.seq)
  }

  /** A process: its files fetched and verified, then placed, then its state, then started. */
  private async deployProcess(v: Verified, seq: number): Promise<void> {
    const { id, ctx } = this
    const supervisor = ctx.supervisor
    const staging = path.join(ctx.data, 'files', id)
    try {
      const spec = specFor(id, v.workload)
      // Fetch and verify the new version before the old one is touched: a bad update leaves it running.
      await stageFiles(v, staging, this.fetching())
      if (supervisor.active(id)) await supervisor.stop(id, `update to instruction ${seq}`)
      await placeFiles(v, staging, supervisor.workDir(id))
      // The declared state goes in before the service starts: its own snapshots, or the one a heal names, verified.
      const restored = await ctx.stateKeepers.prepare(
        id,
        this.trade,
        v.workload,
        v.view,
        supervisor.workDir(id)
      )
      // said in the signed status: which snapshot the heal started from (a later one than named: see restore.ts)
      if (restored !== null)
        supervisor.note(
          id,
          'verifying',
          restored.continued === null
            ? `restored snapshot ${restored.snapshot.seq} (the contract named ${restored.named})`
            : `restored snapshot ${restored.snapshot.seq} of trade ${restored.continued}, which ran on after the one the contract named (${restored.named})`
        )
      this.deployed = seq
      this.refusal = null
      this.said = null
      await supervisor.start(spec)
    } catch (err) {
      const message = (err as Error).message
      if (!supervisor.active(id)) {
        this.hold(err)
        return
      }
      // The version in force keeps running: what was refused is the update, not the workload.
      const reason = `update to instruction ${seq} refused, instruction ${this.deployed} keeps running: ${message}`
      if (this.refusal !== reason) supervisor.remark(id, reason)
      this.refusal = reason
      return
    }
    pruneStaging(v, staging)
  }

  /**
   * Sign how far a fetch got, at most every FETCH_NOTE ms: a start still fetching a big file is progress its bot sees
   * (bot/monitor.ts `stalled`), not a node that answers and never runs its lease.
   */
  private fetching(): (text: string) => void {
    let last = Date.now()
    return (text) => {
      // an update's fetch beside the running version is no start: its state stays 'running'
      if (Date.now() - last < FETCH_NOTE || this.ctx.supervisor.active(this.id)) return
      last = Date.now()
      this.ctx.supervisor.note(this.id, 'verifying', text)
    }
  }

  /**
   * Say why the workload does not run: for good ('refused': its bot replaces the lease), or not yet ('verifying'),
   * then tried again later, as a file or snapshot that was not reachable may be now.
   */
  private hold(err: unknown): void {
    const state = refusalState(err)
    const message = (err as Error).message
    if (this.said !== message) this.ctx.supervisor.note(this.id, state, message)
    this.said = message
    if (state === 'refused' || this.retry !== null || this.ended) return
    this.retry = setTimeout(() => {
      this.retry = null
      if (!this.ended) this.enqueue(() => this.evaluate())
    }, RETRY)
    this.retry.unref()
  }

  private setAccess(access: AccessList | null): void {
    this.access = access
    this.ctx.accessChanged?.(this.id)
  }

  /** An archive's shard: its keeper starts once, then follows the catalog (evaluate syncs it). */
  private async deployShards(v: Verified, seq: number): Promise<void> {
    const { id, ctx } = this
    this.deployed = seq
    if (this.shards !== null && ctx.supervisor.active(id)) return
    const r = this.trade.resources
    const nodeOf = async (trade: string): Promise<Buffer | null> => {
      const t = await ctx.trade(trade)
      return t === null || t.state !== 'settled' ? null : decodeKey(t.node, 'node key')
    }
    const keeper = new ShardKeeper({
      store: ctx.store,
      contract: this.contract,
      bot: decodeKey(this.trade.bot, 'bot key'),
      trade: this.trade.id,
      limit: r.ssd + r.hdd,
      mayFetch: async (key) => {
        const holders = keeper.catalog?.holders.flat() ?? []
        for (const trade of holders)
          if (trade !== null && (await nodeOf(trade))?.equals(key) === true) return true
        return false
      },
      sources: {
        reach: async (trade, timeout) => {
          const node = await nodeOf(trade)
          return node === null ? null : await ctx.reachShards(node, timeout)
        }
      }
    })
    this.shards = keeper
    this.catalogRange ??= this.core.download()
    if (v.catalog !== null) keeper.sync(v.catalog)
    await ctx.supervisor.start({ ...specFor(id, v.workload), holder: keeper })
  }

  /** A mirror is (re)started per deploy instruction like any workload, without files to place. */
  private async deployKeeper(v: Verified, seq: number): Promise<void> {
    const { id, ctx } = this
    const w = v.workload
    const source = w.mirror?.source ?? null
    if (ctx.supervisor.active(id)) await ctx.supervisor.stop(id, `update to instruction ${seq}`)
    // An update that names another source: the old one is no longer paid for.
    if (this.source !== null && (source === null || !this.source.key.equals(source)))
      await this.closeSource(true)
    if (source !== null && this.source === null) this.source = await this.openSource(source)
    this.deployed = seq
    const r = this.trade.resources
    const cores = this.source !== null && source !== null ? [this.source, this.core] : [this.core]
    const holder = new MirrorKeeper({ cores, limit: r.ssd + r.hdd })
    await ctx.supervisor.start({ ...specFor(id, w), holder })
  }

  /** A source core may live anywhere: look for its holders on its own topic, and be one of them. */
  private async openSource(key: Buffer): Promise<Hypercore> {
    const core = this.ctx.store.get({ key })
    await core.ready()
    const done = core.findingPeers()
    this.ctx.swarm.join(core.discoveryKey, { server: true, client: true })
    this.ctx.swarm.flush().then(done, done)
    return core
  }

  private async stop(reason: string): Promise<void> {
    await this.serving?.destroy()
    this.serving = null
    // Released even when it already failed: the lease is over, its blocks are not this node's to keep.
    if (this.ctx.supervisor.get(this.id) !== null)
      await this.ctx.supervisor.stop(this.id, reason, { release: true })
    await this.ctx.stateKeepers.end(this.id)
    await this.closeSource(false)
    this.shards = null
    this.catalogRange?.destroy()
    this.catalogRange = null
  }

  /** Stop holding the source core; `clear`: delete its blocks (the keeper did not, or no longer does). */
  private async closeSource(clear: boolean): Promise<void> {
    const core = this.source
    if (core === null) return
    this.source = null
    await this.ctx.swarm.leave(core.discoveryKey)
    if (clear && core.length > 0) await core.clear(0, core.length)
    await core.close()
  }
}
