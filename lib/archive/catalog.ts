/**
 * An archive's catalog: its records (messages.ts) read in core order into who
 * holds which shard, and which entries are where. The bot checks a record
 * here before it appends it, and every reader (a node, the bot on another
 * machine) folds the same records the same way, so a record one would refuse
 * is never written.
 */
import b4a from 'b4a'
import c from 'compact-encoding'
import { VerificationError, type ArchiveSpec } from '../contract-messages'
import { hash } from '../keys'
import type { ArchiveRecord, MetaRef, SegmentPlan, ShardRef } from './messages'
import type { SignedHead } from '../storage-proof'
import { shardBytes, stripes } from './layout'

/** The code and the groups a contract's manifest fixes. */
export interface ArchiveCode {
  data: number
  parity: number
  groups: number
  /** Bytes each holder keeps at most: its lease's disk. */
  shard: number
}

export interface Segment extends SegmentPlan {
  /** Blocks of each of its shards. */
  length: number
  /** Each shard's tree hash at `length`, once committed. */
  heads: Buffer[] | null
}

export interface Entry {
  id: Buffer
  /** Its sealed metadata, once the entry is complete. */
  meta: MetaRef | null
  segments: Segment[]
  /** The core block of its begin record. */
  block: number
  removed: boolean
}

export interface Place {
  group: number
  shard: number
}

/** A holder's name for one shard of one segment (the `core` a storage challenge names). */
export function shardId(ref: ShardRef): Buffer {
  return hash(
    'scit/archive/shard',
    ref.contract,
    c.encode(c.uint, ref.group),
    ref.entry,
    c.encode(c.uint, ref.segment),
    c.encode(c.uint, ref.shard)
  )
}

export class Catalog {
  /** [group][shard]: the trade that holds it now, null before the layout names one. */
  readonly holders: Array<Array<string | null>>
  readonly entries = new Map<string, Entry>()
  /** Every trade ever named, current or replaced. */
  readonly named = new Set<string>()

  constructor(readonly code: ArchiveCode) {
    const n = code.data + code.parity
    this.holders = Array.from({ length: code.groups }, () => new Array<string | null>(n).fill(null))
  }

  get width(): number {
    return this.code.data + this.code.parity
  }

  /** Fold one record in; throws VerificationError (bad-record) for one no writer may append. */
  apply(r: ArchiveRecord, block: number | null = null): void {
    const bad = (msg: string): never => {
      throw new VerificationError('bad-record', `archive ${r.kind}: ${msg}`, block)
    }
    const group = (g: number): Array<string | null> => this.holders[g] ?? bad(`no group ${g}`)
    switch (r.kind) {
      case 'layout': {
        const row = group(r.group)
        if (row.some((t) => t !== null)) bad(`group ${r.group} is laid out already`)
        if (r.trades.length !== this.width || new Set(r.trades).size !== this.width)
          bad(`group ${r.group} needs ${this.width} distinct trades, got ${r.trades.length}`)
        for (const t of r.trades) if (this.named.has(t)) bad(`trade ${t} holds a shard already`)
        r.trades.forEach((t, j) => {
          row[j] = t
          this.named.add(t)
        })
        return
      }
      case 'repair': {
        const row = group(r.group)
        if (r.shard >= this.width) bad(`no shard ${r.shard}`)
        if (row[r.shard] !== r.replaces)
          bad(`shard ${r.shard} of group ${r.group} is not held by ${r.replaces}`)
        if (this.named.has(r.trade)) bad(`trade ${r.trade} holds a shard already`)
        row[r.shard] = r.trade
        this.named.add(r.trade)
        return
      }
      case 'begin': {
        const id = b4a.toString(r.entry, 'hex')
        if (this.entries.has(id)) bad(`entry ${id} exists`)
        const segments = r.segments.map((s) => {
          group(s.group)
          if (s.bytes < 1 || s.block < 1) bad('a segment holds at least one byte')
          return { ...s, length: stripes(s, this.code.data), heads: null }
        })
        const add = new Map<number, number>()
        for (const s of segments)
          add.set(s.group, (add.get(s.group) ?? 0) + shardBytes(s, this.code.data))
        for (const [g, bytes] of add)
          if (this.used(g) + bytes > this.code.shard)
            bad(`group ${g} cannot take ${bytes} more bytes per shard`)
        this.entries.set(id, {
          id: r.entry,
          meta: null,
          segments,
          block: block ?? 0,
          removed: false
        })
        return
      }
      case 'meta': {
        const e = this.entries.get(b4a.toString(r.entry, 'hex')) ?? bad('no such entry')
        if (e.removed || e.meta !== null) bad('the entry is removed or complete already')
        if (e.segments.some((s) => s.heads === null)) bad('a segment of the entry is not committed')
        e.meta = r.meta
        return
      }
      case 'commit': {
        const e = this.entries.get(b4a.toString(r.entry, 'hex')) ?? bad('no such entry')
        const s = e.segments[r.segment] ?? bad(`no segment ${r.segment}`)
        if (e.removed) bad('the entry was removed')
        if (s.heads !== null) bad(`segment ${r.segment} is committed already`)
        if (r.heads.length !== this.width) bad(`${r.heads.length} heads for ${this.width} shards`)
        s.heads = r.heads
        return
      }
      case 'remove': {
        const e = this.entries.get(b4a.toString(r.entry, 'hex')) ?? bad('no such entry')
        if (e.removed) bad('the entry was removed already')
        e.removed = true
      }
    }
  }

  /** Bytes each shard of group `g` keeps for entries not removed. */
  used(g: number): number {
    let n = 0
    for (const e of this.entries.values()) {
      if (e.removed) continue
      for (const s of e.segments) if (s.group === g) n += shardBytes(s, this.code.data)
    }
    return n
  }

  /** Room left per shard in each group. */
  free(): number[] {
    return this.holders.map((_, g) => Math.max(0, this.code.shard - this.used(g)))
  }

  placeOf(trade: string): Place | null {
    for (let group = 0; group < this.holders.length; group++) {
      const shard = this.holders[group].indexOf(trade)
      if (shard !== -1) return { group, shard }
    }
    return null
  }

  /** The committed segments of one shard, as a storage challenge names them: its id, the signed head, its bytes. */
  proofs(contract: Buffer, place: Place): Array<{ id: Buffer; head: SignedHead; bytes: number }> {
    const out: Array<{ id: Buffer; head: SignedHead; bytes: number }> = []
    for (const e of this.entries.values()) {
      if (e.removed) continue
      e.segments.forEach((seg, segment) => {
        if (seg.group !== place.group || seg.heads === null) return
        out.push({
          id: shardId({ contract, group: place.group, entry: e.id, segment, shard: place.shard }),
          head: { length: seg.length, treeHash: seg.heads[place.shard] },
          bytes: shardBytes(seg, this.code.data)
        })
      })
    }
    return out
  }

  /** Entries stored whole, named, and not removed. */
  complete(): Entry[] {
    return [...this.entries.values()].filter((e) => !e.removed && e.meta !== null)
  }

  /** Entries begun and never completed nor removed: a put that stopped midway. */
  unfinished(): Entry[] {
    return [...this.entries.values()].filter((e) => !e.removed && e.meta === null)
  }
}

/** The catalog of an archive workload as a contract core says it; throws VerificationError on a bad record. */
export function readCatalog(
  records: ReadonlyArray<{ record: ArchiveRecord; block: number }>,
  w: { name: string; archive: ArchiveSpec | null }
): Catalog {
  if (w.archive === null)
    throw new VerificationError('bad-manifest', `workload ${w.name} is not an archive`)
  const catalog = new Catalog(w.archive)
  for (const { record, block } of records) catalog.apply(record, block)
  return catalog
}
