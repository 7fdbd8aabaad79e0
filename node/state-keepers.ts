/** The daemon's StateKeeper per replica whose service declares `state:`, opened before the service starts. */
import fs from 'fs'
import path from 'path'
import type Corestore from 'corestore'
import type Hyperswarm from 'hyperswarm'
import type { PeerInfo } from 'hyperswarm'
import type { KeyPair } from '../lib/identity'
import { decodeKey, encodeKey, shortKey } from '../lib/keys'
import { logger } from '../lib/log'
import { VerificationError, RestoreRef, ContractView, ManifestWorkload } from '../lib/contract'
import { workloadId } from '../lib/trade-workload'
import type { Trade } from '../market/types'
import { StateKeeper } from './state-keeper'
import b4a from 'b4a'
import { restore, Restored, Continued, NEWER_WAIT } from './restore'
import { lookupPresence } from '../lib/presence'
import { lastStatus } from '../lib/status'
import { settleWithin, within } from '../lib/timeout'

const log = logger('node/state')

/** In the replica's state dir once its restore is placed: a restart never restores over the work dir again. */
const RESTORED = 'restored'

/**
 * The trade the contract restored from `from` last before `trade`: a replica that took over from the same one, whose
 * own snapshots the bot never held (else it would have named them), or null.
 */
export function continuationOf(view: ContractView, trade: string, from: string): string | null {
  let last: string | null = null
  for (const ins of view.instructions)
    for (const r of ins.restore) {
      if (r.trade === trade) return last
      if (r.from === from) last = r.trade
    }
  return last
}

/** The restore a contract names for `trade` (the last one, should a heal be re-signed), or null. */
export function restoreFor(view: ContractView, trade: string): RestoreRef | null {
  let found: RestoreRef | null = null
  for (const ins of view.instructions) for (const r of ins.restore) if (r.trade === trade) found = r
  return found
}

export interface KeepersOptions {
  store: Corestore
  swarm: Hyperswarm
  identity: KeyPair
  data: string
  /** A trade as the ledger has it: who ran the replica a restore comes from. */
  trade(id: string): Promise<Trade | null>
}

export class StateKeepers {
  private readonly keepers = new Map<string, StateKeeper>()

  constructor(private readonly o: KeepersOptions) {}

  key(id: string): Buffer | null {
    return this.keepers.get(id)?.key ?? null
  }
  get(id: string): StateKeeper | null {
    return this.keepers.get(id) ?? null
  }

  /**
   * Before replica `id` starts: resume its own snapshots, or restore the one its contract
   * names once the ledger shows that node ran the replica it comes from; else refuse.
   */
  async prepare(
    id: string,
    trade: Trade,
    w: ManifestWorkload,
    view: ContractView,
    workDir: string
  ): Promise<Restored | null> {
    if (w.state === null) return null
    let k = this.keepers.get(id)
    if (k === undefined) {
      k = new StateKeeper(this.o.store.namespace('scit/node'), this.o.identity, {
        id,
        contract: view.core.key,
        spec: w.state,
        limit: w.resources.ssd + w.resources.hdd,
        workDir,
        staging: path.join(this.o.data, 'state', id)
      })
      await k.open()
      this.keepers.set(id, k)
    }
    k.pause()
    let restored: Restored | null = null
    const ref = restoreFor(view, trade.id)
    if (k.last !== null) await k.resume()
    else if (ref !== null) {
      const dir = path.join(this.o.data, 'state', id)
      const done = path.join(dir, RESTORED)
      // restored before, and this node's store was moved aside since: its work dir is newer than any snapshot
      if (fs.existsSync(done)) log.info('work dir kept, restored before', { id })
      else {
        restored = await this.restore(trade, ref, view, workDir, dir)
        fs.writeFileSync(done, JSON.stringify({ from: ref.from, seq: restored.snapshot.seq }))
      }
      // the restored state is this replica's own from now on: a restart resumes it, never restores the named one again
      await k
        .snapshot()
        .catch((err) =>
          log.warn('snapshot after restore failed', { id, err: (err as Error).message })
        )
    }
    k.start()
    return restored
  }

  /**
   * The snapshot `ref` names, or a later one of the same core its node shows in time, or the newest of the replica
   * that continued it (see `continued`), verified into `workDir`.
   */
  private async restore(
    trade: Trade,
    ref: RestoreRef,
    view: ContractView,
    workDir: string,
    dir: string
  ): Promise<Restored> {
    const from = await this.o.trade(ref.from)
    if (
      from === null ||
      from.node !== encodeKey(ref.node) ||
      from.contract !== encodeKey(view.core.key)
    ) {
      throw new VerificationError(
        'bad-snapshot',
        `the contract restores ${trade.id} from trade ${ref.from}, which node ${shortKey(ref.node)} did not run for this contract`
      )
    }
    const old = this.dial(ref.node)
    const dialled = [old]
    // one wait in all, for the replica that continued and for a later snapshot of the named one
    const until = Date.now() + NEWER_WAIT
    try {
      const continued = await this.continued(trade, ref, view, until, (node) => {
        const d = this.dial(node)
        dialled.push(d)
        return d
      })
      return await restore(
        this.o.store,
        ref,
        { contract: view.core.key, replica: workloadId({ id: ref.from }) },
        { staging: path.join(dir, 'restore'), workDir },
        {
          newer: { until, gone: old.gone },
          continued,
          found: (core) => {
            const done = core.findingPeers()
            // the old node holds what it signed after the bot's copy stopped (a bot cut off from it)
            old.join()
            this.o.swarm.flush().then(done, done)
          }
        }
      )
    } finally {
      for (const d of dialled) d.leave()
    }
  }

  /**
   * A node a restore may fetch from: `join` asks the swarm for it, `gone` says a dial to it failed since (a node that
   * stopped is not announced: no use waiting on it), `leave` undoes the join unless it was asked before. This node
   * itself: its own store holds the cores, there is no one to wait for.
   */
  private dial(node: Buffer): { join: () => void; gone: () => boolean; leave: () => void } {
    const swarm = this.o.swarm
    const peer = (): PeerInfo | undefined => swarm.peers.get(b4a.toString(node, 'hex'))
    const joined = peer()?.explicit === true
    const tried = peer()?.attempts ?? 0
    const self = b4a.equals(node, this.o.identity.publicKey)
    let asked = false
    return {
      join: () => {
        if (self || asked) return
        asked = true
        swarm.joinPeer(node)
      },
      gone: () =>
        self ||
        ((peer()?.attempts ?? 0) > tried &&
          ![...swarm.connections].some((c) => b4a.equals(c.remotePublicKey, node))),
      leave: () => {
        if (asked && !joined) swarm.leavePeer(node)
      }
    }
  }

  /**
   * The replica the contract restored from `ref.from` before `trade`, which no longer runs, and the state core its node
   * signed: the bot held no snapshot of it (it ran its whole life while the bot was stopped or cut off), so the bot
   * named the one before it again, while that replica's node holds what its service wrote after. Found from the
   * contract's own restores and the ledger, its core from the node's presence and signed status; null when there is
   * none, or it is not found before `until` (the named snapshot is restored then). Not one on this node itself.
   */
  private async continued(
    trade: Trade,
    ref: RestoreRef,
    view: ContractView,
    until: number,
    dial: (node: Buffer) => { join: () => void; gone: () => boolean }
  ): Promise<Continued | null> {
    const id = continuationOf(view, trade.id, ref.from)
    if (id === null) return null
    const t = await this.o.trade(id)
    // one still running is a sibling, not one this replaces; one never settled never ran; one of another contract is
    // none of ours
    if (t === null || t.state === 'settled' || t.state === 'matched' || t.start === null)
      return null
    if (t.contract !== encodeKey(view.core.key)) return null
    const node = decodeKey(t.node, 'node key')
    if (b4a.equals(node, this.o.identity.publicKey)) return null
    const left = (): number => Math.max(1, until - Date.now())
    const d = dial(node)
    d.join()
    try {
      const p = await within(lookupPresence(this.o.swarm.dht, node), left(), 'no presence record')
      if (p === null) return null
      const status = this.o.store.get({ key: p.record.statusCore })
      try {
        await status.ready()
        await settleWithin(status.update({ wait: true }), left())
        const { record } = await lastStatus(status, node, workloadId({ id }), {
          timeout: left(),
          where: (r) => r.stateCore !== null
        })
        const core = record?.body.stateCore ?? null
        if (core === null) return null
        return { trade: id, node, core, newer: { until, gone: d.gone } }
      } finally {
        await status.close()
      }
    } catch (err) {
      log.info('the replica that continued was not found', {
        trade: trade.id,
        continued: id,
        err: (err as Error).message
      })
      return null
    }
  }

  /** A run of `id` ended: snapshot what it left (the interval goes on: the supervisor may restart it). */
  stopped(id: string): void {
    const k = this.keepers.get(id)
    if (k === undefined) return
    k.snapshot().catch((err) =>
      log.warn('snapshot after stop failed', { id, err: (err as Error).message })
    )
  }

  /** The lease is over: a last snapshot, and the core is closed (its blocks stay for whoever replicates them). */
  async end(id: string): Promise<void> {
    const k = this.keepers.get(id)
    if (k === undefined) return
    this.keepers.delete(id)
    await k.close(true)
  }

  async close(): Promise<void> {
    await Promise.all([...this.keepers.keys()].map((id) => this.end(id)))
  }
}
