/**
 * Storage challenges of archive leases (docs/ARCHITECTURE.md "Execution", "Self-healing"), on the source core or
 * else the contract core. The length comes from a head the bot trusts (its own core
 * or its sparse replica, signature-checked by Hypercore); the replica downloads no
 * block. The bot joins the source topic so it learns the latest head from every holder.
 */
import type Hypercore from 'hypercore'
import b4a from 'b4a'
import { ScitError } from '../lib/errors'
import { kindEntry } from '../lib/workload-kinds'
import { signedHead, challengeCount, Verdict } from '../lib/storage-proof'
import { waitForUpdate } from '../lib/timeout'
import type { BotHost } from './host'
import type { DeploymentRecord, TradeRecord } from './records'
import type { NodeChannel } from '../lib/node-protocol'
import type { Catalog } from '../lib/archive/catalog'
import { catalogOf } from './archive-deploy'
import safetyCatch from 'safety-catch'

export class Challenges {
  private readonly replicas = new Map<string, Promise<Hypercore>>()

  constructor(
    private readonly bot: Pick<BotHost, 'store' | 'swarm' | 'reach' | 'writer' | 'manifestOf'>
  ) {}

  isChallenged(d: DeploymentRecord, t: TradeRecord): boolean {
    return this.bot
      .manifestOf(d)
      .workloads.some((w) => w.name === t.workload && kindEntry(w.kind).challenged)
  }

  /** null when `t` is not an archive lease. */
  async target(d: DeploymentRecord, t: TradeRecord): Promise<Hypercore | null> {
    const w = this.bot.manifestOf(d).workloads.find((x) => x.name === t.workload)
    if (!w || !kindEntry(w.kind).challenged) return null
    if (w.mirror?.source) return this.replica(w.mirror.source)
    return (await this.bot.writer(d)).core
  }

  /**
   * Resolves with the verdict, or null when the bot has no signed head yet; rejects
   * when the node is unreachable, refuses (REJECTED) or is silent (TIMEOUT).
   */
  async challenge(d: DeploymentRecord, t: TradeRecord, timeout: number): Promise<Verdict | null> {
    const w = this.bot.manifestOf(d).workloads.find((x) => x.name === t.workload)
    if (w?.archive != null) return this.challengeShard(d, t, timeout)
    const core = await this.target(d, t)
    if (core === null) return null
    const ch = await this.bot.reach(t.node, timeout)
    if (ch === null)
      throw new ScitError(
        'TIMEOUT',
        `node ${t.node.slice(0, 8)} could not be reached in ${timeout} ms`
      )
    if (!core.writable) await waitForUpdate(core, timeout)
    const head = await signedHead(core)
    if (head === null) return null
    return ch.challenge(core.key, head, challengeCount(core), { timeout })
  }

  /** An archive holder, on a random segment of its shard. Null while it is to hold none. */
  private async challengeShard(
    d: DeploymentRecord,
    t: TradeRecord,
    timeout: number
  ): Promise<Verdict | null> {
    const writer = await this.bot.writer(d)
    const catalog = catalogOf(writer)
    const place = catalog?.placeOf(t.id) ?? null
    if (catalog === null || place === null) return null
    const ch = await this.bot.reach(t.node, timeout)
    if (ch === null)
      throw new ScitError(
        'TIMEOUT',
        `node ${t.node.slice(0, 8)} could not be reached in ${timeout} ms`
      )
    return proveShard(ch, catalog.proofs(writer.key, place), timeout)
  }

  async close(): Promise<void> {
    for (const p of this.replicas.values()) {
      const core = await p.catch(() => null)
      if (core === null) continue
      if (!this.bot.swarm.destroyed)
        await this.bot.swarm.leave(core.discoveryKey).catch(safetyCatch)
      await core.close()
    }
    this.replicas.clear()
  }

  private replica(key: Buffer): Promise<Hypercore> {
    const id = b4a.toString(key, 'hex')
    let p = this.replicas.get(id)
    if (!p) {
      p = (async () => {
        const core = this.bot.store.get({ key })
        await core.ready()
        this.bot.swarm.join(core.discoveryKey, { server: false, client: true })
        return core
      })()
      this.replicas.set(id, p)
    }
    return p
  }
}

/**
 * One storage challenge on a random committed segment of an archive shard,
 * against the head the bot signed in the catalog; null with none to prove.
 */
export async function proveShard(
  ch: NodeChannel,
  segments: ReturnType<Catalog['proofs']>,
  timeout: number
): Promise<Verdict | null> {
  if (segments.length === 0) return null
  const pick = segments[Math.floor(Math.random() * segments.length)]
  const count = challengeCount({ length: pick.head.length, byteLength: pick.bytes })
  return ch.challenge(pick.id, pick.head, count, { timeout })
}
