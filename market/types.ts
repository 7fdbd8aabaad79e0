/**
 * The market's domain types and the contracts between the pure engine, the ledger that runs it and the client
 * node/, bot/ and the explorer use. Types only; their wire encodings are in market/messages.ts.
 */
import type Hyperbee from 'hyperbee'
import type { Resources, Prices } from '../lib/resources'
import type { Timeline } from './timeline'

/** An envelope id (z32 hash of its bytes), or derived from one. */
export type Id = string
/** Public keys as z32 strings in the view and the API (lib/keys encodeKey). */
export type KeyText = string

// Op bodies: the `body` of a signed envelope of the named type (lib/envelope).

/** `offer` and `offer-update`: a node's whole capacity for sale. One offer per node key. */
export interface OfferBody {
  resources: Resources // total capacity for sale (leased capacity is subtracted by the engine)
  prices: Prices // per resource-hour, per unit (lib/resources PRICE_UNIT)
  country: string // ISO 3166 alpha-2, upper case ("CH")
  city: string
  attributes: string[] // e.g. ["ssd", "certified", "gpu"], sorted, unique
  minLease: number // ms
  maxLease: number // ms
}

/** `withdraw`: the node stops selling; running leases continue. */
export type WithdrawBody = Record<string, never>

/** `bid`: a bot's demand, all-or-none across its replicas. */
export interface BidBody {
  resources: Resources // per replica
  replicas: number // >= 1
  countries: string[] // allowed countries, empty = anywhere
  attributes: string[] // every one required on the offer
  spread: boolean // true: each replica on a distinct node
  maxPrice: number // max price per replica-hour, smallest unit
  duration: number // lease duration in ms
  expiry: number // engine time (ms) after which an unfilled bid is dropped
  exclude: KeyText[] // nodes not to match (a bot re-buying away from a failed node)
}

export interface CancelBody {
  bid: Id
}

/** `settle`: bind a trade to a contract core and manifest; escrow moves from the bot's balance. */
export interface SettleBody {
  trade: Id
  contract: Buffer
  manifest: Buffer
}

/** `close` (by the bot), `fail` (by the bot, the node is gone), `claim` (by the node: payout so far). */
export interface TradeRefBody {
  trade: Id
  reason: string
}

export interface DepositBody {
  to: Buffer
  amount: number
}
export interface TransferBody {
  to: Buffer
  amount: number
}

/** `template`: a signed contract template, versioned by name (bot/ defines the document format). */
export interface TemplateBody {
  name: string
  version: number
  document: Buffer
  /** The files its workloads ship, by their path in the template's folder (absent in ops made before files were carried). */
  files?: TemplateFile[]
}

/** One file of a published template: `path` is relative, `/`-separated, inside the template's folder. */
export interface TemplateFile {
  path: string
  data: Buffer
}

/** `governance`. `genesis` must be the market's first op, carried by the bootstrap writer. */
export type GovernanceBody =
  /** offerTtl (ms, 0 = never): an offer its node has not renewed for that long is not sold. */
  | { action: 'genesis'; faucets: Buffer[]; settlementWindow: number; offerTtl?: number }
  | { action: 'add-indexer' | 'remove-indexer'; identity: Buffer; writer: Buffer }

// State kept in the view.

export interface Offer extends OfferBody {
  node: KeyText
  id: Id // the envelope id of the op that created or last updated it
  available: Resources // resources minus what live leases hold
  time: number // engine time of the last price change (price-time priority)
  renewed: number // engine time of the node's last offer or offer-update (the market's offerTtl counts from it)
  withdrawn: boolean
}

export type BidState = 'open' | 'filled' | 'expired' | 'cancelled'

export interface Bid extends BidBody {
  id: Id
  bot: KeyText
  time: number
  state: BidState
  trades: Id[]
}

export type TradeState = 'matched' | 'settled' | 'released' | 'closed' | 'failed' | 'ended'

export interface Trade {
  id: Id // `${bid}.${replica}`
  bid: Id
  replica: number
  bot: KeyText
  node: KeyText
  resources: Resources
  price: number // per hour, smallest unit (the resting order's price)
  duration: number // ms
  matchedAt: number
  settleBy: number // released back to the book if not settled by then
  state: TradeState
  contract: KeyText | null // per-contract hypercore key, set by settle
  manifest: string | null // manifest hash (hex), set by settle
  start: number | null // lease start (settle time)
  end: number | null // lease end (start + duration, or close/fail time)
  escrow: number // locked, not yet paid out
  paid: number // paid to the node so far
  refunded: number // returned to the bot
}

export interface Template extends TemplateBody {
  author: KeyText
  id: Id
  time: number
}

/** Stored under `op/<id>` (accepted) or `rejected/<id>`. */
export interface Outcome {
  id: Id
  type: string
  author: KeyText | null
  time: number // engine time after this op
  accepted: boolean
  reason: RejectReason | null
  message: string | null
  trades: Id[] // trades created by this op (a bid that matched, an offer that filled resting bids)
}

export type RejectReason =
  // from lib/envelope open()
  | 'malformed'
  | 'too-large'
  | 'unknown-type'
  | 'bad-version'
  | 'bad-signature'
  | 'replay'
  // market rules
  | 'no-genesis'
  | 'not-owner'
  | 'not-found'
  | 'bad-state'
  | 'invalid'
  | 'insufficient-funds'
  | 'not-faucet'
  | 'not-indexer'
  | 'overflow'

export interface RangeOptions {
  gt?: string
  gte?: string
  lt?: string
  lte?: string
  reverse?: boolean
  limit?: number
}

/** The only I/O the engine has: an ordered key-value view (a Hyperbee batch in the ledger, memory in tests). */
export interface View {
  get(key: string): Promise<Buffer | null>
  put(key: string, value: Buffer): Promise<void>
  del(key: string): Promise<void>
  range(opts: RangeOptions): AsyncIterable<{ key: string; value: Buffer }>
}

export interface OpInput {
  value: Buffer // the envelope bytes, exactly as appended
  bootstrap: boolean // carried by the market's bootstrap writer core (only it may send genesis)
  /** envelopeId(value), when the caller already hashed it: the envelope is hashed once. */
  id?: string
}

/** What the ledger must carry out in Autobase (host.addWriter / removeWriter). */
export interface Effects {
  addIndexer?: Buffer
  removeIndexer?: Buffer
}

export type Apply = (
  view: View,
  input: OpInput
) => Promise<{ outcome: Outcome; effects: Effects | null }>

// The client API (market/client.ts).

export interface OpRequest {
  type: string
  body: object
}

export interface TradeFilter {
  node?: KeyText
  bot?: KeyText
  state?: TradeState
  bid?: Id
  /** Only trades matched or settled (the live index: O(live trades) whatever the history). */
  live?: boolean
}
export interface OfferFilter {
  country?: string
  attributes?: string[]
  minAvailable?: Partial<Resources>
  includeWithdrawn?: boolean
  /** Only offers the engine sells now: not withdrawn, and renewed within the market's offer TTL. */
  selling?: boolean
}

export interface MarketClient {
  readonly key: Buffer // the market key (the Autobase key)
  readonly identity: KeyText // the signing identity of this client
  readonly writable: boolean // false for a read-only explorer
  ready(): Promise<void>
  close(): Promise<void>
  /** Seal each op with this identity (next seq), append them in one batch; returns their ids. */
  submit(ops: OpRequest[]): Promise<Id[]>
  /**
   * Wait until the op is applied, and (with final) indexed by a quorum. Throws TIMEOUT. An op this client sealed
   * that is refused as a replay is sealed again: the outcome is its copy's, and `outcome.id` names the copy.
   */
  outcome(id: Id, opts?: { final?: boolean; timeout?: number }): Promise<Outcome>
  /** Engine time: the clamped timestamp of the last applied op. */
  time(): Promise<number>
  offer(node: KeyText): Promise<Offer | null>
  offers(filter?: OfferFilter): Promise<Offer[]>
  bid(id: Id): Promise<Bid | null>
  bids(filter?: { bot?: KeyText; state?: BidState }): Promise<Bid[]>
  /** This client's bids sent and not final yet (kept across restarts): the id each will have, and its body. */
  sentBids(): Array<{ id: Id; body: BidBody }>
  trade(id: Id): Promise<Trade | null>
  trades(filter?: TradeFilter): Promise<Trade[]>
  balance(key: KeyText): Promise<number>
  templates(): Promise<Template[]>
  template(name: string, version?: number): Promise<Template | null>
  on(event: 'update', fn: () => void): this
  off(event: 'update', fn: () => void): this
}

// A full ledger that applies the market (indexers) or a follower that reads the indexers' signed view.

/** An op a ledger decided: its outcome (null: look it up), and a view length that holds it. */
export interface Hint {
  id: Id
  outcome: Outcome | null
  length: number
}

export interface MarketLedger {
  readonly key: Buffer
  readonly discoveryKey: Buffer
  readonly writable: boolean
  readonly isIndexer: boolean
  /** This peer's writer core (null for a follower, which has none). */
  readonly writerKey: Buffer | null
  /** The view readers see; a follower's is the indexers' signed view. */
  readonly view: Hyperbee
  /** How much of the view is final: its order will never change. */
  readonly finalVersion: number
  /** True when the view only grows (a follower's); a full ledger's tip is truncated by reorgs. */
  readonly appendOnly?: boolean
  /** Ops queued behind the append in flight (a relay's back-pressure). */
  readonly backlog: number
  readonly counters: { envelopes: number; applies: number; optimistic: number }
  /** Each op's way to final and the stages' costs, when asked for (benches). */
  readonly timeline?: Timeline | null
  /** Sends a non-writer's ops through a relay; false when none took them. */
  relay: ((envelopes: Buffer[]) => Promise<boolean>) | null
  ready(): Promise<void>
  close(): Promise<void>
  finalCheckout(): Hyperbee
  update(): Promise<void>
  /** Wait (at most `timeout` ms) until this peer has what its peers had when asked. */
  catchUp(timeout?: number): Promise<void>
  replicate(stream: unknown): unknown
  append(envelopes: Buffer[]): Promise<void>
  /** The highest seq of `author` this peer ever sent, applied or not. */
  lastSeqSent(author: Buffer): Promise<number>
  /** The ops this peer sent that are not final yet (its outbox, kept across restarts). */
  pending(): Buffer[]
  takeApplied(): { hints: Hint[]; lookAllAt: number }
  appliedYet(id: Id): boolean
  on(event: 'update', fn: () => void): unknown
  on(event: 'error', fn: (err: Error) => void): unknown
  off(event: 'update', fn: () => void): unknown
}
