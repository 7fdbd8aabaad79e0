/**
 * What a node signed about the workloads it runs for this bot (docs/ARCHITECTURE.md "Execution", "Self-healing"):
 * its status core, every record checked as a node-signed `status` envelope at its own
 * position. The liveness summary naming the core is unsigned, but a core the node
 * did not sign yields only refusals.
 */
import type Hypercore from 'hypercore'
import b4a from 'b4a'
import { decodeKey } from '../lib/keys'
import { waitForUpdate } from '../lib/timeout'
import { readCore, Verified, Refusal } from '../lib/status'
import type { StatusRecord } from '../lib/node-messages'
import type { NodeChannel } from '../lib/node-protocol'
import type { BotHost } from './host'
import safetyCatch from 'safety-catch'

/** Records that failed verification, kept for display (the latest few). */
const KEEP_REFUSED = 16
/** Chunked, so a long history (and its refusals) is read bounded. */
const CHUNK = 256

export class NodeWatch {
  private core: Hypercore | null = null
  /** The connection that named `core`: a node met again may have started on a new store, with a new status core. */
  private from: NodeChannel | null = null
  private next = 0
  private readonly latest = new Map<string, Verified<StatusRecord>>()
  /** Records of the core that did not verify (wrong signer, replayed, malformed). */
  readonly refused: Refusal[] = []
  private refreshing: Promise<void> | null = null

  constructor(
    private readonly bot: Pick<BotHost, 'store'>,
    readonly node: string
  ) {}

  /** null when the node signed none yet. */
  state(id: string): Verified<StatusRecord> | null {
    return this.latest.get(id) ?? null
  }

  /** Concurrent calls share one refresh. */
  refresh(ch: NodeChannel, timeout: number): Promise<void> {
    if (this.refreshing === null)
      this.refreshing = this.read(ch, timeout).finally(() => {
        this.refreshing = null
      })
    return this.refreshing
  }

  private async read(ch: NodeChannel, timeout: number): Promise<void> {
    if (this.core === null || ch !== this.from) {
      // a node whose damaged store was moved aside signs on cores of its fresh one: follow the core it names now
      const s = await ch.status({ timeout }).catch((err: Error) => {
        if (this.core === null) throw err
        return null // asked again at the next refresh; the core named before is read meanwhile
      })
      if (s !== null) {
        await this.follow(s.statusCore)
        this.from = ch
      }
    }
    const core = this.core as Hypercore
    await waitForUpdate(core, timeout)
    const node = decodeKey(this.node, 'node key')
    while (this.next < core.length) {
      const end = Math.min(core.length, this.next + CHUNK)
      const r = await readCore<StatusRecord>(core, node, 'status', {
        start: this.next,
        end,
        timeout
      })
      // one that did not arrive is read again next time; one that does not verify is skipped for good
      const missing = r.refused.find((x) => x.reason === 'missing')
      const upto = missing ? missing.index : end
      for (const rec of r.records) if (rec.index < upto) this.latest.set(rec.body.workload, rec)
      for (const x of r.refused) if (x.index < upto) this.refused.push(x)
      this.refused.splice(0, Math.max(0, this.refused.length - KEEP_REFUSED))
      this.next = upto
      if (missing) return
    }
  }

  /** Read `key` from now on; records read of the core before stay the latest until the new one has its own. */
  private async follow(key: Buffer): Promise<void> {
    if (this.core !== null && b4a.equals(this.core.key, key)) return
    const old = this.core
    const core = this.bot.store.get({ key })
    await core.ready()
    this.core = core
    this.next = 0
    await old?.close()
  }

  async close(): Promise<void> {
    await this.refreshing?.catch(safetyCatch)
    await this.core?.close()
  }
}
