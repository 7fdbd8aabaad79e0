/**
 * What a deployment does differently for an archive (docs/ARCHITECTURE.md "Archives"): its
 * groups, each bought by one bid, are laid out in the catalog once settled
 * (trade j of group g holds shard j); a holder replaced by a heal is named by
 * a repair record, before its trade is settled, so the new node knows which
 * shard to rebuild and from whom.
 */
import type { ManifestWorkload } from '../lib/contract'
import { readCatalog, type Catalog } from '../lib/archive/catalog'
import type { BotHost } from './host'
import type { ContractWriter } from './notary'
import type { DeploymentRecord, TradeRecord } from './records'

export function archiveWorkload(writer: ContractWriter): ManifestWorkload | null {
  return writer.view.current.manifest.workloads.find((w) => w.archive !== null) ?? null
}

export function catalogOf(writer: ContractWriter): Catalog | null {
  const w = archiveWorkload(writer)
  return w === null ? null : readCatalog(writer.view.archive, w)
}

/** A layout record per group not laid out yet: the trades of its bid, in replica order. Idempotent. */
export async function writeLayout(
  bot: Pick<BotHost, 'progress'>,
  d: DeploymentRecord,
  writer: ContractWriter
): Promise<void> {
  const w = archiveWorkload(writer)
  if (w === null) return
  const bids = d.bids.filter(
    (b) => b.workload === w.name && b.replaces === null && b.phase === 'filled'
  )
  for (let group = 0; group < bids.length; group++) {
    const catalog = catalogOf(writer) as Catalog
    if (catalog.holders[group]?.some((t) => t !== null) !== false) continue
    const prefix = `${bids[group].id ?? ''}.`
    const trades = d.trades
      .filter((t) => t.id.startsWith(prefix) && t.phase === 'settled')
      .sort((a, b) => replicaOf(a) - replicaOf(b))
      .map((t) => t.id)
    await writer.appendArchive({ kind: 'layout', group, trades })
  }
  bot.progress(
    'layout',
    `${bids.length} ${bids.length === 1 ? 'group' : 'groups'} of ${(w.archive?.data ?? 0) + (w.archive?.parity ?? 0)} holders named in the catalog`
  )
}

function replicaOf(t: TradeRecord): number {
  return Number(t.id.slice(t.id.lastIndexOf('.') + 1))
}

/** The group of `t`'s shard, or null when the catalog names no shard of it. */
export function groupOf(writer: ContractWriter, t: TradeRecord): number | null {
  return catalogOf(writer)?.placeOf(t.id)?.group ?? null
}

/**
 * The nodes that hold the other shards of `t`'s group, or are to: a replacement must be none of them. A replacement
 * bought for a holder of the group (matched or settled) is not named in the catalog until it is reached, yet takes a
 * shard of it (the soak, seed 2700: two heals of one group both bought k56tyhx6).
 */
export function groupPeers(writer: ContractWriter, d: DeploymentRecord, t: TradeRecord): string[] {
  const catalog = catalogOf(writer)
  const place = catalog?.placeOf(t.id) ?? null
  if (catalog === null || place === null) return []
  const holders = new Set(catalog.holders[place.group].filter((x): x is string => x !== null))
  const peer = (x: TradeRecord): boolean =>
    x.id !== t.id &&
    (holders.has(x.id) ||
      (x.replaces !== null &&
        holders.has(x.replaces) &&
        (x.phase === 'matched' || x.phase === 'settled')))
  return [...new Set(d.trades.filter(peer).map((x) => x.node))]
}

/** Repairs being written, per contract: two heals at once (two holders of a group lost) must not both name one replacement. */
const repairing = new WeakMap<ContractWriter, Promise<unknown>>()

/** Name each replacement of a holder in the catalog: it takes the replaced trade's shard. Idempotent: one named already counts as done. */
export function writeRepairs(writer: ContractWriter, fresh: TradeRecord[]): Promise<TradeRecord[]> {
  const run = (repairing.get(writer) ?? Promise.resolve()).then(async () => {
    const done: TradeRecord[] = []
    for (const x of fresh) {
      const catalog = catalogOf(writer)
      if (catalog?.named.has(x.id) === true) {
        done.push(x)
        continue
      }
      const place = x.replaces === null ? null : (catalog?.placeOf(x.replaces) ?? null)
      if (catalog === null || place === null || x.replaces === null) continue
      await writer.appendArchive({ kind: 'repair', ...place, trade: x.id, replaces: x.replaces })
      done.push(x)
    }
    return done
  })
  repairing.set(
    writer,
    run.catch(() => null)
  )
  return run
}
