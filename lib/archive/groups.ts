/**
 * How an archive's size becomes groups of holders (docs/ARCHITECTURE.md "Archives"): a
 * holder keeps at most a shard cap, so an archive of `size` bytes needs
 * size / (data × cap) groups, each of data + parity holders; the shards are
 * then sized evenly. A smaller cap means more, smaller leases: more holders
 * to read from in parallel, and less to move when one is rebuilt.
 */
import { hourlyCost, ZERO, GiB } from '../resources'
import { BLOCK } from './layout'
import { MESSAGE } from './seal'

/** What a holder keeps at most when the template says nothing (its `shard`). */
export const DEFAULT_SHARD = 256 * GiB
/** Most paid per GiB-hour of a holder's disk when the template says nothing (its `price`); nodes sell hdd at 1 by default. */
export const DEFAULT_PRICE = 2

/** Bytes an archive of `size` may need to store: its ciphertext (a tag per message) and the padding of a short stripe per entry. */
export function withOverhead(size: number): number {
  return size + Math.ceil(size / MESSAGE) * 17 + Math.ceil(size / 256)
}

export interface Groups {
  groups: number
  shard: number
}

/** The fewest groups whose shards stay within `cap`, shards sized evenly in whole blocks. */
export function groupsFor(size: number, data: number, cap: number): Groups {
  const need = withOverhead(size)
  const most = Math.max(BLOCK, Math.floor(cap / BLOCK) * BLOCK)
  const groups = Math.max(1, Math.ceil(need / (data * most)))
  const shard = Math.ceil(Math.ceil(need / (data * groups)) / BLOCK) * BLOCK
  return { groups, shard }
}

/** A holder's budget per hour: `price` per GiB-hour of its shard, rounded as the market rounds. */
export function holderBudget(shard: number, price: number): number {
  return hourlyCost({ ...ZERO, hdd: shard }, { ...ZERO, hdd: price })
}

/** Hours in a month, for prices per month (365 × 24 / 12). */
export const MONTH = 730
