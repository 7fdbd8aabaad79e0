/**
 * One archive as its bot sees it (docs/ARCHITECTURE.md "Archives"): the contract core (this
 * data dir's own, or replicated from the nodes that hold it when only
 * `identity.json` came along), the catalog folded from it, the keys derived
 * from the identity, and the holders reached through the market's trades.
 */
import b4a from 'b4a'
import { ScitError } from '../lib/errors'
import { decodeKey, encodeKey } from '../lib/keys'
import {
  readContract,
  ContractView,
  type ManifestWorkload,
  type ArchiveSpec
} from '../lib/contract'
import { readCatalog, Catalog, type Entry } from '../lib/archive/catalog'
import { archiveKeys, openMeta, type ArchiveKeys } from '../lib/archive/seal'
import type { EntryMeta } from '../lib/archive/messages'
import type { ShardChannel } from '../lib/archive/shard-channel'
import type { Bot } from './bot'
import type { ContractWriter } from './notary'
import type { DeploymentRecord } from './records'

const FIND_TIMEOUT = 20_000
const pause = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms).unref())

export interface Listed {
  entry: Entry
  meta: EntryMeta
}

export class ArchiveSession {
  readonly keys: ArchiveKeys
  private readonly metas = new Map<string, EntryMeta>()
  private readonly nodes = new Map<string, string | null>()

  private constructor(
    readonly bot: Bot,
    readonly view: ContractView,
    readonly workload: ManifestWorkload,
    /** This data dir's writer of the contract, or null: read-only (another machine, identity.json alone). */
    readonly writer: ContractWriter | null,
    readonly deployment: DeploymentRecord | null
  ) {
    this.keys = archiveKeys(bot.identity.secretKey, view.core.key)
  }

  /** By this bot's contract id or key; a contract key this data dir never deployed is read from its holders. */
  static async open(bot: Bot, ref: string, timeout = FIND_TIMEOUT): Promise<ArchiveSession> {
    let d: DeploymentRecord | null = null
    try {
      d = bot.state.find(ref)
    } catch (err) {
      if ((err as ScitError).code !== 'NOT_FOUND' || !isKeyText(ref)) throw err
    }
    if (d !== null) {
      if (d.contract === null || d.phase === 'trading' || d.phase === 'failed')
        throw new ScitError('BAD_STATE', `contract ${d.id} is ${d.phase}: it has no archive yet`)
      const writer = await bot.writer(d)
      return new ArchiveSession(bot, writer.view, archiveOf(writer.view, d.id), writer, d)
    }
    const view = await replicate(bot, decodeKey(ref, 'contract key'), timeout)
    return new ArchiveSession(bot, view, archiveOf(view, ref), null, null)
  }

  get contract(): Buffer {
    return this.view.core.key
  }
  get code(): ArchiveSpec {
    return this.workload.archive as ArchiveSpec
  }
  get name(): string {
    return this.deployment?.id ?? encodeKey(this.contract).slice(0, 8)
  }

  /** The catalog as the core says now. */
  async catalog(): Promise<Catalog> {
    if (this.writer === null) {
      // a peer that never answers must not hold the read: the core is at most a moment old
      await Promise.race([this.view.core.update({ wait: true }).catch(() => false), pause(2000)])
      await this.view.refresh()
    }
    return readCatalog(this.view.archive, this.workload)
  }

  /** Entries stored whole and not removed, with their metadata opened. */
  async entries(catalog?: Catalog): Promise<Listed[]> {
    const c = catalog ?? (await this.catalog())
    const out: Listed[] = []
    for (const entry of c.complete()) out.push({ entry, meta: await this.meta(entry) })
    return out.sort((a, b) => (a.meta.name < b.meta.name ? -1 : a.meta.name > b.meta.name ? 1 : 0))
  }

  async meta(entry: Entry): Promise<EntryMeta> {
    const id = b4a.toString(entry.id, 'hex')
    let m = this.metas.get(id)
    if (m === undefined) {
      if (entry.meta === null) throw new ScitError('NOT_FOUND', 'the entry is not complete')
      m = openMeta(this.keys.catalog, await this.view.readBlob(entry.meta))
      this.metas.set(id, m)
    }
    return m
  }

  /** The entry called `name`; NOT_FOUND names what there is. */
  async find(name: string, catalog?: Catalog): Promise<Listed> {
    const all = await this.entries(catalog)
    const hit = all.find((x) => x.meta.name === name)
    if (hit !== undefined) return hit
    const names = all.map((x) => x.meta.name)
    throw new ScitError(
      'NOT_FOUND',
      `no entry "${name}" in archive ${this.name}${names.length ? ` (it holds ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}: scit bot archive ls ${this.name})` : ': it is empty'}`
    )
  }

  requireWriter(): ContractWriter {
    if (this.writer !== null) return this.writer
    throw new ScitError(
      'READ_ONLY',
      `this data dir did not deploy contract ${encodeKey(this.contract)}: with identity.json alone, ls, get and health work; put and rm need the data dir that deployed it`
    )
  }

  /** The node of a live trade, from the market (cached); null once the trade is over. */
  async nodeOf(trade: string): Promise<string | null> {
    if (!this.nodes.has(trade)) {
      const t = await this.bot.client.trade(trade)
      this.nodes.set(trade, t !== null && t.state === 'settled' ? t.node : null)
    }
    return this.nodes.get(trade) ?? null
  }

  /**
   * The holders of `groups`, by shard (null: not reached). Waits for every
   * one up to `timeout`, but no longer than `grace` once each group has k.
   */
  async holders(
    catalog: Catalog,
    groups: Iterable<number>,
    timeout: number,
    grace = 1500
  ): Promise<Map<number, Array<ShardChannel | null>>> {
    const k = this.code.data
    const out = new Map<number, Array<ShardChannel | null>>()
    const pending: Array<Promise<void>> = []
    for (const g of new Set(groups)) {
      const row: Array<ShardChannel | null> = catalog.holders[g].map(() => null)
      out.set(g, row)
      catalog.holders[g].forEach((trade, shard) =>
        pending.push(
          this.reach(trade, timeout).then((ch) => {
            row[shard] = ch
          })
        )
      )
    }
    const enough = (): boolean =>
      [...out.values()].every((row) => row.filter((c) => c !== null).length >= k)
    const all = Promise.all(pending)
    await new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | null = null
      const check = (): void => {
        if (timer === null && enough()) timer = setTimeout(resolve, grace)
      }
      for (const p of pending) p.then(check, check)
      all.then(() => {
        if (timer !== null) clearTimeout(timer)
        resolve()
      }, resolve)
    })
    // a snapshot: holders that answer later are not used by this read
    return new Map([...out].map(([g, row]) => [g, [...row]]))
  }

  /** The shard protocol to the holder of `trade`, or null. */
  async reach(trade: string | null, timeout: number): Promise<ShardChannel | null> {
    const node = trade === null ? null : await this.nodeOf(trade)
    return node === null ? null : await this.bot.reachShards(node, timeout)
  }
}

function isKeyText(ref: string): boolean {
  try {
    decodeKey(ref)
    return true
  } catch {
    return false
  }
}

function archiveOf(view: ContractView, name: string): ManifestWorkload {
  const m = view.current.manifest
  const w = m.workloads.find((x) => x.archive !== null)
  if (w === undefined)
    throw new ScitError(
      'NOT_FOUND',
      `contract ${name} is not an archive (its workloads: ${m.workloads.map((x) => `${x.name}, a ${x.kind}`).join('; ')})`
    )
  return w
}

/** The contract core from the nodes that hold it: the market names them by their trades of it with this bot. */
async function replicate(bot: Bot, key: Buffer, timeout: number): Promise<ContractView> {
  const z = encodeKey(key)
  const trades = (await bot.client.trades({ bot: bot.key, live: true })).filter(
    (t) => t.contract === z
  )
  if (trades.length === 0)
    throw new ScitError(
      'NOT_FOUND',
      `this identity (${bot.key.slice(0, 8)}) has no live lease of a contract ${z}: is the key right, and this identity.json the one that deployed it?`
    )
  const core = bot.store.get({ key })
  await core.ready()
  for (const node of new Set(trades.map((t) => t.node)))
    bot.swarm.joinPeer(decodeKey(node, 'node key'))
  const deadline = Date.now() + timeout
  while (core.length === 0) {
    if (Date.now() > deadline)
      throw new ScitError(
        'TIMEOUT',
        `no holder of contract ${z} served its core within ${timeout} ms`
      )
    await Promise.race([core.update({ wait: true }).catch(() => false), pause(500)])
  }
  return await readContract(core, { coreKey: key, botKey: bot.identity.publicKey })
}
