/**
 * The bot's verified copies of its replicas' state cores (docs/ARCHITECTURE.md "State in the notary"):
 * every block downloaded as written, each snapshot checked; the latest is TradeRecord.snapshot, what a heal restores.
 */
import type Hypercore from 'hypercore'
import b4a from 'b4a'
import { clearBlocks } from '../lib/clear-blocks'
import { decodeKey, encodeKey } from '../lib/keys'
import { logger } from '../lib/log'
import { workloadId } from '../lib/trade-workload'
import { scanState, verifyFiles, stateSize, StateFile } from '../lib/state-core'
import type { VerificationError } from '../lib/contract'
import { settleWithin } from '../lib/timeout'
import type { BotHost } from './host'
import type { DeploymentRecord, TradeRecord, SnapshotRecord } from './records'
import safetyCatch from 'safety-catch'

const log = logger('bot/snapshots')

/** bot.events 'snapshot': a replica's snapshot verified. */
export interface SnapshotEvent {
  deployment: string
  trade: string
  snapshot: SnapshotRecord
}

interface Copy {
  core: Hypercore
  node: Buffer
  contract: Buffer
  replica: string
  /** Where the next unverified record starts, and the last sequence verified. */
  next: number
  seq: number
  /** The latest verified snapshot's files, and their keys (fileKey). */
  files: StateFile[]
  verified: Set<string>
  range: { destroy(): void }
  verifying: Promise<void> | null
  again: boolean
  /** Why the copy stopped: a snapshot that did not verify. */
  refused: string | null
}

function fileKey(f: StateFile): string {
  return `${f.start}:${f.blocks}:${f.size}:${f.hash.toString('hex')}`
}

export class StateCopies {
  private readonly copies = new Map<string, Copy>()
  /** Cores kept open for a new node to fetch a restore from (a bot restarted mid-heal has no copy open). */
  private readonly held = new Map<string, Hypercore>()
  private closed = false

  constructor(private readonly bot: Pick<BotHost, 'store' | 'state' | 'events' | 'progress'>) {}

  refused(id: string): string | null {
    return this.copies.get(id)?.refused ?? null
  }

  async track(d: DeploymentRecord, t: TradeRecord, stateCore: Buffer | null): Promise<void> {
    if (this.closed || d.contract === null) return
    let copy = this.copies.get(t.id)
    // its node named another core: a damaged store moved aside, the replica goes on with a fresh one
    if (copy !== undefined && stateCore !== null && !b4a.equals(copy.core.key, stateCore)) {
      this.copies.delete(t.id)
      await this.retire(copy)
      copy = this.copies.get(t.id) // a concurrent call may have opened the new one meanwhile
    }
    if (this.closed) return
    if (copy === undefined) {
      if (stateCore === null) return
      const core = this.bot.store.get({ key: stateCore })
      await core.ready()
      if (this.closed) {
        await core.close()
        return
      }
      copy = {
        core,
        node: decodeKey(t.node, 'node key'),
        contract: decodeKey(d.contract, 'contract core'),
        replica: workloadId(t),
        next: 0,
        seq: 0,
        files: [],
        verified: new Set(),
        // every block as it is written: the node may die at any time
        range: core.download({ start: 0, end: -1 }),
        verifying: null,
        again: false,
        refused: null
      }
      this.copies.set(t.id, copy)
      const c = copy
      const onblock = (): void => {
        this.verify(d, t, c)
      }
      core.on('append', onblock)
      core.on('download', onblock)
      core.update({ wait: true }).catch(safetyCatch)
    }
    this.verify(d, t, copy)
    await copy.verifying
  }

  /** One verification at a time per copy; one more if blocks arrived meanwhile. */
  private verify(d: DeploymentRecord, t: TradeRecord, copy: Copy): void {
    if (copy.verifying !== null) {
      copy.again = true
      return
    }
    copy.verifying = this.verifyOnce(d, t, copy)
      .catch((err) =>
        log.warn('state copy check failed', { trade: t.id, err: (err as Error).message })
      )
      .finally(() => {
        copy.verifying = null
        if (copy.again && !this.closed) {
          copy.again = false
          this.verify(d, t, copy)
        }
      })
  }

  /**
   * Check every new snapshot's envelope, and the files of the latest not verified before (a restore
   * starts from the latest; superseded versions are cleared). Blocks not here yet: the next one retries.
   */
  private async verifyOnce(d: DeploymentRecord, t: TradeRecord, copy: Copy): Promise<void> {
    // a retired copy's late blocks change nothing: the trade's snapshot is the new core's now
    if (copy.refused !== null || this.closed || this.copies.get(t.id) !== copy) return
    try {
      const scan = await scanState(
        copy.core,
        copy.next,
        { node: copy.node, contract: copy.contract, replica: copy.replica },
        { wait: false }
      )
      const latest = scan.snapshots[scan.snapshots.length - 1]
      if (latest === undefined) return
      scan.snapshots.forEach((at, i) => {
        if (at.snapshot.seq !== copy.seq + 1 + i)
          throw new Error(`snapshot ${at.snapshot.seq} follows snapshot ${copy.seq + i}`)
      })
      const files = latest.snapshot.files
      try {
        await verifyFiles(
          copy.core,
          files.filter((f) => !copy.verified.has(fileKey(f))),
          { wait: false }
        )
      } catch (err) {
        if ((err as VerificationError).reason === 'snapshot-unavailable') return
        throw err
      }
      const keep = new Set(files.map(fileKey))
      // the copy keeps the latest state, as its node does: what it replaced is cleared here too
      for (const f of copy.files)
        if (!keep.has(fileKey(f)) && f.blocks > 0)
          await clearBlocks(copy.core, f.start, f.start + f.blocks)
      copy.verified = keep
      copy.files = files
      copy.seq = latest.snapshot.seq
      copy.next = latest.length
      t.snapshot = {
        core: encodeKey(copy.core.key),
        length: latest.length,
        seq: latest.snapshot.seq,
        hash: latest.snapshot.hash.toString('hex'),
        files: files.length,
        size: stateSize(files),
        time: latest.timestamp,
        verified: Date.now()
      }
      this.bot.state.save()
      this.bot.events.emit('snapshot', {
        deployment: d.id,
        trade: t.id,
        snapshot: t.snapshot
      } satisfies SnapshotEvent)
    } catch (err) {
      copy.refused = (err as Error).message
      this.bot.progress(
        'state-refused',
        `${d.id}: the state core of trade ${t.id} does not verify: ${copy.refused}`,
        d.id
      )
    }
  }

  /** Bring the copy of `t` up to date now, waiting at most `timeout` ms; resolves with its latest verified snapshot. */
  async sync(
    d: DeploymentRecord,
    t: TradeRecord,
    stateCore: Buffer | null,
    timeout: number
  ): Promise<SnapshotRecord | null> {
    await this.track(d, t, stateCore)
    const copy = this.copies.get(t.id)
    if (copy === undefined) return t.snapshot ?? null
    await settleWithin(copy.core.update({ wait: true }), timeout)
    const range = copy.core.download({ start: 0, end: copy.core.length })
    await settleWithin(range.done(), timeout)
    range.destroy()
    this.verify(d, t, copy)
    await copy.verifying
    return t.snapshot ?? null
  }

  /**
   * Stop copying a core its node no longer writes. Its latest verified snapshot is still what a heal restores
   * until the new core has one of its own: kept open, as `hold` does.
   */
  private async retire(copy: Copy): Promise<void> {
    copy.range.destroy()
    await copy.verifying
    const k = encodeKey(copy.core.key)
    if (this.closed || this.held.has(k)) await copy.core.close()
    else this.held.set(k, copy.core)
  }

  /** Keep state core `key` open, so that the node a restore names it to can fetch it from this bot. */
  async hold(key: Buffer): Promise<void> {
    const k = encodeKey(key)
    if (
      this.closed ||
      this.held.has(k) ||
      [...this.copies.values()].some((c) => c.core.key.equals(key))
    )
      return
    const core = this.bot.store.get({ key })
    this.held.set(k, core)
    await core.ready()
  }

  async close(): Promise<void> {
    this.closed = true
    for (const core of this.held.values()) await core.close()
    this.held.clear()
    for (const copy of this.copies.values()) {
      copy.range.destroy()
      await copy.verifying
      await copy.core.close()
    }
    this.copies.clear()
  }
}
