/** The daemon's StateKeeper per replica whose service declares `state:`, opened before the service starts. */
import path from 'path'
import type Corestore from 'corestore'
import type Hyperswarm from 'hyperswarm'
import type { KeyPair } from '../lib/identity'
import { encodeKey, shortKey } from '../lib/keys'
import { logger } from '../lib/log'
import { VerificationError, RestoreRef, ContractView, ManifestWorkload } from '../lib/contract'
import type { Snapshot } from '../lib/state-core'
import { workloadId } from '../lib/trade-workload'
import type { Trade } from '../market/types'
import { StateKeeper } from './state-keeper'
import { restore } from './restore'

const log = logger('node/state')

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
  ): Promise<Snapshot | null> {
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
    let restored: Snapshot | null = null
    const ref = restoreFor(view, trade.id)
    if (k.last !== null) await k.resume()
    else if (ref !== null) {
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
      restored = await restore(
        this.o.store,
        ref,
        { contract: view.core.key, replica: workloadId({ id: ref.from }) },
        { staging: path.join(this.o.data, 'state', id, 'restore'), workDir },
        {
          found: (core) => {
            const done = core.findingPeers()
            this.o.swarm.flush().then(done, done)
          }
        }
      )
    }
    k.start()
    return restored
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
