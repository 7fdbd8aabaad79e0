/**
 * The live offers in memory, listed per resource kind by price so a bid need not read every offer:
 * a cache of the view's `offer/` records, never a source of truth. A ledger keeps one across apply
 * calls, journaled so a reorg that truncates the view undoes exactly the calls it removed.
 */
import { RESOURCE_KINDS, ResourceKind, Resources } from '../../lib/resources'
import { lowerBound } from '../range'
import { offerRecord, decode } from '../messages'
import * as K from './keys'
import { decoded } from './decoded'
import type { Offer, KeyText, View } from '../types'

interface Entry {
  price: number
  node: KeyText
}

/** What a view shows of its offers: a book, and the writes staged over it (null: deleted or withdrawn). */
export interface OfferLayer {
  readonly book: OfferBook
  readonly staged: ReadonlyMap<KeyText, Offer | null>
}

export class OfferBook {
  private readonly offers = new Map<KeyText, Offer>()
  private readonly sorted = Object.fromEntries(
    RESOURCE_KINDS.map((k) => [k, [] as Entry[]])
  ) as Record<ResourceKind, Entry[]>
  /** Per kind, every offer's total of it, ascending: the largest says at once what no node could hold. */
  private readonly totals = Object.fromEntries(
    RESOURCE_KINDS.map((k) => [k, [] as number[]])
  ) as Record<ResourceKind, number[]>
  /** Changes since `seal`: [node, the offer before]. */
  private pending: Array<[KeyText, Offer | undefined]> = []
  /** Sealed changes by the view length they led to, oldest first. */
  private journal: Array<{ length: number; changes: Array<[KeyText, Offer | undefined]> }> = []

  /** `journaled`: keep what changed, to roll back or truncate (a view that is never truncated needs none). */
  constructor(private readonly journaled = false) {}

  static async load(view: View, journaled = false): Promise<OfferBook> {
    const book = new OfferBook(journaled)
    for await (const { value } of view.range(K.prefixRange(K.OFFERS)))
      book.set(decode(offerRecord, value))
    book.pending = []
    return book
  }

  get(node: KeyText): Offer | undefined {
    return this.offers.get(node)
  }

  values(): IterableIterator<Offer> {
    return this.offers.values()
  }

  /** The offers with some of this kind left, cheapest first for its price (ties by node key). */
  byPrice(kind: ResourceKind): readonly Entry[] {
    return this.sorted[kind]
  }

  /** Could some offer hold `need` in total (not now: at all)? */
  mayHold(need: Resources): boolean {
    return RESOURCE_KINDS.every((k) => need[k] === 0 || (this.totals[k].at(-1) ?? 0) >= need[k])
  }

  /** This book as a view's offers, nothing staged over it. */
  layer(): OfferLayer {
    return { book: this, staged: NOTHING }
  }

  /** Keep in step with a write to the view (null: a delete); keys other than offers are not its business. */
  write(key: string, value: Buffer | null): void {
    if (!key.startsWith(K.OFFERS)) return
    if (value === null) this.delete(key.slice(K.OFFERS.length))
    else this.set(decoded(offerRecord, value))
  }

  set(offer: Offer): void {
    this.change(offer.node, offer.withdrawn ? undefined : offer)
  }

  delete(node: KeyText): void {
    this.change(node, undefined)
  }

  private change(node: KeyText, next: Offer | undefined): void {
    const prev = this.offers.get(node)
    if (prev === next) return
    if (this.journaled) this.pending.push([node, prev])
    this.place(node, prev, next)
  }

  private place(node: KeyText, prev: Offer | undefined, next: Offer | undefined): void {
    for (const k of RESOURCE_KINDS) {
      // Listed for a kind while some of it is left: a sold-out offer is no candidate for a bid that needs that kind.
      const was = prev !== undefined && prev.available[k] > 0
      const is = next !== undefined && next.available[k] > 0
      if (was && is && prev.prices[k] === next.prices[k]) continue
      const list = this.sorted[k]
      if (was) list.splice(search(list, prev.prices[k], node), 1)
      if (is) list.splice(search(list, next.prices[k], node), 0, { price: next.prices[k], node })
    }
    for (const k of RESOURCE_KINDS) {
      if (prev?.resources[k] === next?.resources[k]) continue
      const totals = this.totals[k]
      if (prev !== undefined) totals.splice(lowerBound(totals, prev.resources[k]), 1)
      if (next !== undefined)
        totals.splice(lowerBound(totals, next.resources[k]), 0, next.resources[k])
    }
    if (next === undefined) this.offers.delete(node)
    else this.offers.set(node, next)
  }

  /** The changes since the last seal are in the view, which is now `length` long. */
  seal(length: number): void {
    this.journal.push({ length, changes: this.pending })
    this.pending = []
    if (this.journal.length > MAX_JOURNAL) this.journal.shift()
  }

  /** The changes since the last seal never reached the view: undo them. */
  rollback(): void {
    this.undo(this.pending)
    this.pending = []
  }

  /** The view length this book matches (-1: unknown). */
  get length(): number {
    return this.journal.length === 0 ? -1 : this.journal[this.journal.length - 1].length
  }

  /** The view was truncated to `length`: undo the calls past it; false when the journal is too short (rebuild). */
  truncate(length: number): boolean {
    for (
      let top = this.journal.at(-1);
      top !== undefined && top.length > length;
      top = this.journal.at(-1)
    ) {
      this.undo(top.changes)
      this.journal.pop()
    }
    return this.length === length
  }

  /** Forget the journal up to `length`: a view is never truncated below what a quorum signed. */
  trim(length: number): void {
    let i = 0
    while (i < this.journal.length - 1 && this.journal[i].length <= length) i++
    if (i > 0) this.journal.splice(0, i)
  }

  private undo(changes: Array<[KeyText, Offer | undefined]>): void {
    for (let i = changes.length - 1; i >= 0; i--) {
      const [node, prev] = changes[i]
      this.place(node, this.offers.get(node), prev)
    }
  }
}

const NOTHING: ReadonlyMap<KeyText, Offer | null> = new Map()

/** Apply calls remembered for reorgs; a deeper reorg rebuilds the book from the view. */
const MAX_JOURNAL = 4096

/** Where (price, node) sits in a list sorted by price then node. */
function search(list: Entry[], price: number, node: KeyText): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const e = list[mid]
    if (e.price < price || (e.price === price && e.node < node)) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** A view that keeps its offers decoded, in step with its writes; the engine scans one that does not. */
export interface OfferView extends View {
  offers?(): Promise<OfferLayer>
}

export async function offersOf(view: OfferView): Promise<OfferLayer> {
  if (view.offers !== undefined) return await view.offers()
  return { book: await OfferBook.load(view), staged: new Map() }
}

/** A layer with more staged writes on top (a Tx over a view). */
export function overlay(below: OfferLayer, staged: Iterable<Offer | [KeyText, null]>): OfferLayer {
  let map: Map<KeyText, Offer | null> | null = null
  for (const s of staged) {
    map ??= new Map(below.staged)
    if (Array.isArray(s)) map.set(s[0], null)
    else map.set(s.node, s.withdrawn ? null : s)
  }
  return map === null ? below : { book: below.book, staged: map }
}
