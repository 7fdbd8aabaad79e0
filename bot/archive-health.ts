/**
 * `scit bot archive ls | rm | health`: what an archive holds, removing an
 * entry (its holders drop the shards), and how each group stands: its
 * holders, what each holds, a storage proof asked now, the repairs under
 * way, and what the archive has cost so far.
 */
import b4a from 'b4a'
import { ScitError } from '../lib/errors'
import { hash, encodeKey } from '../lib/keys'
import { costFor } from '../lib/resources'
import type { Catalog } from '../lib/archive/catalog'
import { shardBytes } from '../lib/archive/layout'
import { proveShard } from './challenges'
import type { ArchiveSession, Listed } from './archive-session'

const REACH = 5_000

export interface LsRow {
  name: string
  dir: boolean
  files: number
  size: number
  /** A file's BLAKE2b-256; a directory's over its files' paths, sizes and hashes. */
  hash: string
  created: string
  groups: number[]
}

export async function ls(s: ArchiveSession): Promise<LsRow[]> {
  return (await s.entries()).map(row)
}

function row({ entry, meta }: Listed): LsRow {
  const one = !meta.dir && meta.files.length === 1 ? meta.files[0].hash : null
  const digest =
    one ??
    hash(
      'scit/archive/dir',
      ...meta.files.map((f) => b4a.concat([b4a.from(`${f.path}\0${f.size}\0`), f.hash]))
    )
  return {
    name: meta.name,
    dir: meta.dir,
    files: meta.files.length,
    size: meta.files.reduce((n, f) => n + f.size, 0),
    hash: b4a.toString(digest, 'hex'),
    created: new Date(meta.created).toISOString(),
    groups: [...new Set(entry.segments.map((x) => x.group))]
  }
}

export async function rm(s: ArchiveSession, name: string): Promise<LsRow & { freed: number }> {
  const writer = s.requireWriter()
  const catalog = await s.catalog()
  const hit = await s.find(name, catalog)
  await writer.appendArchive({ kind: 'remove', entry: hit.entry.id })
  const k = s.code.data
  const freed = hit.entry.segments.reduce(
    (n, seg) => n + shardBytes(seg, k) * (k + s.code.parity),
    0
  )
  return { ...row(hit), freed }
}

export interface HolderHealth {
  shard: number
  trade: string | null
  node: string | null
  reachable: boolean
  /** Committed segments of its shard it holds whole, lacks, rebuilds; null when unreached. */
  held: number | null
  missing: number | null
  rebuilding: number | null
  bytes: number | null
  /** A storage challenge asked now: 'ok', why it failed, or null with nothing to prove yet. */
  proof: string | null
}

export interface GroupHealth {
  group: number
  holders: HolderHealth[]
  /** Holders that answer and hold every committed segment. */
  whole: number
  /** Holders more it can lose before a get fails. */
  margin: number
}

export interface Health {
  contract: string
  code: string
  entries: number
  stored: number
  capacity: number
  groups: GroupHealth[]
  /** Replacements bought and not yet holding their shard. */
  repairs: Array<{ trade: string; replaces: string | null; node: string }>
  /** Paid to the holders so far (pro rata of their leases), and per hour now. */
  cost: { sofar: number; perHour: number }
}

export async function health(s: ArchiveSession): Promise<Health> {
  const catalog = await s.catalog()
  const { data: k, parity: m } = s.code
  const groups = await Promise.all(catalog.holders.map((row, g) => groupHealth(s, catalog, g, row)))
  const trades = (await s.bot.client.trades({ bot: s.bot.key })).filter(
    (t) => t.contract === encodeKey(s.contract)
  )
  const now = Date.now()
  let sofar = 0
  let perHour = 0
  for (const t of trades) {
    if (t.start === null) continue
    sofar += costFor(t.price, Math.max(0, Math.min(now, t.end ?? now) - t.start))
    if (t.state === 'settled') perHour += t.price
  }
  const pending = new Set(
    groups.flatMap((g) =>
      g.holders.filter((h) => h.missing !== 0 || h.rebuilding !== 0).map((h) => h.trade)
    )
  )
  const repairs = (s.deployment?.trades ?? [])
    .filter((t) => t.replaces !== null && t.phase === 'settled' && pending.has(t.id))
    .map((t) => ({ trade: t.id, replaces: t.replaces, node: t.node }))
  const live = catalog.complete()
  return {
    contract: encodeKey(s.contract),
    code: `${k}+${m}`,
    entries: live.length,
    stored: live.reduce(
      (n, e) => n + e.segments.reduce((x, seg) => x + shardBytes(seg, k) * (k + m), 0),
      0
    ),
    capacity: s.code.groups * s.code.shard * (k + m),
    groups,
    repairs,
    cost: { sofar, perHour }
  }
}

async function groupHealth(
  s: ArchiveSession,
  catalog: Catalog,
  g: number,
  row: Array<string | null>
): Promise<GroupHealth> {
  const holders = await Promise.all(
    row.map(async (trade, shard): Promise<HolderHealth> => {
      const node = trade === null ? null : await s.nodeOf(trade)
      const ch = await s.reach(trade, REACH)
      const h: HolderHealth = {
        shard,
        trade,
        node,
        reachable: ch !== null,
        held: null,
        missing: null,
        rebuilding: null,
        bytes: null,
        proof: null
      }
      if (ch === null) return h
      try {
        Object.assign(h, await ch.summary(s.contract, REACH))
      } catch (err) {
        h.proof = (err as ScitError).message
        return h
      }
      h.proof = await prove(s, catalog, g, shard, node)
      return h
    })
  )
  const whole = holders.filter((h) => h.reachable && h.missing === 0 && h.rebuilding === 0).length
  return { group: g, holders, whole, margin: whole - s.code.data }
}

/** A storage challenge now on a random committed segment of the shard: 'ok', why not, or null with nothing to prove. */
async function prove(
  s: ArchiveSession,
  catalog: Catalog,
  g: number,
  shard: number,
  node: string | null
): Promise<string | null> {
  const ch = node === null ? null : await s.bot.reach(node, REACH)
  if (ch === null) return null
  try {
    const v = await proveShard(ch, catalog.proofs(s.contract, { group: g, shard }), REACH)
    return v === null ? null : v.ok ? 'ok' : v.reason
  } catch (err) {
    return (err as Error).message
  }
}
