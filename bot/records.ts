/**
 * The bot's durable records in <data>/bot/state.json, replaced atomically after every step. They hold
 * only what the contract core cannot: bids in flight (recorded before they are submitted, so a restart
 * finds them by their unique expiry instead of buying twice), their trades, and which replaced which.
 */
import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import { ScitError } from '../lib/errors'
import type { BidBody } from '../market/types'
import { decodeManifest, manifestHash, type ParamValue } from '../lib/contract'
import { readJsonFile } from '../lib/schema'
import { writeDurably } from '../lib/datadir'
import {
  STATE_SCHEMA,
  STATE_VERSION,
  BID_PHASES,
  TRADE_PHASES,
  DEPLOYMENT_PHASES
} from './records-schema'

export { STATE_VERSION }

const FIX = 'restore it from a backup, or move it away to start with no deployments'
/** Far above what thousands of contracts take: a larger file is not this bot's records. */
const MAX_STATE_BYTES = 256 * 1024 * 1024

export type BidPhase = (typeof BID_PHASES)[number]

/** One bid of the bot. `expiry` is unique per bid of this bot: it finds the bid in the ledger after a crash. */
export interface BidRecord {
  workload: string
  attempt: number
  body: Omit<BidBody, 'resources'> & { resources: BidBody['resources'] }
  id: string | null
  phase: BidPhase
  reason: string | null
  /** The trade this bid replaces (a heal) or null. */
  replaces: string | null
  /**
   * A heal's or renewal's bid (monitor.ts buyAgain): the nodes it never takes, where the workload runs now (spread
   * peers, an archive group's holders) and those this bid found unreachable. Its `body.exclude` is these plus the
   * nodes avoided as it is (re)placed (trader.ts exclusion). Absent (other bids, and state.json from before):
   * `body.exclude` is kept as it is.
   */
  hard?: string[]
}

export type TradePhase = (typeof TRADE_PHASES)[number]

export interface TradeRecord {
  id: string
  workload: string
  node: string
  price: number
  phase: TradePhase
  replaces: string | null
  /** Why the bot ended it (close/fail reason). */
  reason: string | null
  /** The latest snapshot of its state core the bot verified (bot/state-copies.ts); absent for stateless workloads. */
  snapshot?: SnapshotRecord | null
  /** A job's end as its node signed it, kept before the bot closes the lease (bot/jobs.ts). */
  job?: JobRecord | null
  /** Why the bot decided to replace it, kept until its fail is done: a restarted bot finishes the heal at once. */
  healing?: string
  /** When (ms) the bot could not reach its node before settling (trader.ts reached): never settled, closed, its node avoided. */
  unreached?: number
}

/** What a job replica's node signed when it ended. */
export interface JobRecord {
  state: 'exited' | 'failed'
  exitCode: number | null
  reason: string
  /** BLAKE2b-256 (hex) of the declared output file, and of stdout. */
  output: string | null
  stdout: string | null
  /** z32 key of the core that keeps the output (node/results.ts); null without one. */
  core: string | null
  /** When the node signed it (ms). */
  signed: number
}

/** A verified snapshot of a replica's state core: `length` blocks of `core` end in snapshot `seq` of total `hash`. */
export interface SnapshotRecord {
  core: string // z32
  length: number
  seq: number
  hash: string // hex
  files: number
  size: number // bytes of the state
  time: number // when the node signed it (ms)
  verified: number // when the bot verified it (ms)
}

export type DeploymentPhase = (typeof DEPLOYMENT_PHASES)[number]

export interface DeploymentRecord {
  id: string // the bot's name for it; the contract core's name in the store derives from it
  template: string // file path or published name
  set: Record<string, ParamValue>
  manifestHash: string // hex, of the manifest in force
  manifest: string // hex of encodeManifest: a restart does not depend on the template file being unchanged
  sources: Array<{ workload: string; path: string; source: string }>
  contract: string | null // z32 core key
  phase: DeploymentPhase
  bids: BidRecord[]
  trades: TradeRecord[]
  created: number
  error: string | null
  /** A stop asked for and not done yet (its reason): a restart finishes it, and never deploys on. */
  stopping?: string
}

interface StateDoc {
  version: number
  /** z32 key of the market its deployments trade on (absent in files written before it was kept). */
  market?: string
  deployments: DeploymentRecord[]
}

export class BotState {
  readonly file: string
  private doc: StateDoc = { version: STATE_VERSION, deployments: [] }

  constructor(data: string) {
    this.file = path.join(data, 'bot', 'state.json')
  }

  /** Read and check the whole file: its shape (records-schema.ts), and each manifest against its hash. */
  load(): this {
    const doc = readJsonFile<StateDoc>(this.file, {
      max: MAX_STATE_BYTES,
      schema: STATE_SCHEMA,
      fix: FIX
    })
    if (doc === null) return this
    doc.deployments.forEach((d, i) => {
      let ok = false
      try {
        ok =
          manifestHash(decodeManifest(b4a.from(d.manifest, 'hex'))).toString('hex') ===
          d.manifestHash
      } catch {
        // a manifest that does not decode is refused below, as one that does not match
      }
      if (!ok)
        throw new ScitError(
          'INVALID_CONFIG',
          `${this.file}: deployments[${i}].manifest does not decode to the manifest its manifestHash names (${FIX})`
        )
    })
    this.doc = doc
    return this
  }

  /**
   * A bot's contracts, bids and trades are on one market: refuse another while any
   * deployment is recorded, instead of listing and healing them against a market that never had them.
   */
  bindMarket(market: string): void {
    if (this.doc.market === market) return
    const ids = this.doc.deployments.map((d) => d.id)
    if (this.doc.market !== undefined && ids.length > 0)
      throw new ScitError(
        'INVALID_CONFIG',
        `the bot in ${path.dirname(path.dirname(this.file))} trades on market ${this.doc.market} (${ids.length} contracts: ${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', …' : ''}), not ${market}: a bot keeps to one market; give this one its own --data, or use --market ${this.doc.market}`
      )
    this.doc.market = market
    this.save()
  }

  get deployments(): DeploymentRecord[] {
    return this.doc.deployments
  }

  get(id: string): DeploymentRecord | null {
    return this.doc.deployments.find((d) => d.id === id) ?? null
  }

  /** A deployment by its id, its contract key, or a unique prefix of either. */
  find(ref: string): DeploymentRecord {
    const exact = this.doc.deployments.find((d) => d.id === ref || d.contract === ref)
    if (exact) return exact
    const some = this.doc.deployments.filter(
      (d) => d.id.startsWith(ref) || (d.contract ?? '').startsWith(ref)
    )
    if (some.length === 1) return some[0]
    throw new ScitError(
      'NOT_FOUND',
      some.length
        ? `"${ref}" names ${some.length} contracts: give more characters`
        : `this bot has no contract "${ref}" (scit bot status lists them)`
    )
  }

  add(d: DeploymentRecord): void {
    if (this.get(d.id))
      throw new ScitError('INVALID_ARGUMENT', `a deployment ${d.id} exists already`)
    this.doc.deployments.push(d)
    this.save()
  }

  /** Persist now: call after every change that a restart must see. */
  save(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 })
    writeDurably(this.file, JSON.stringify(this.doc, null, 1) + '\n')
  }
}
