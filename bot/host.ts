/**
 * What the bot's helpers (monitor, watch, challenges, state copies) use of their bot:
 * each takes the few parts it needs, so none imports bot.ts back.
 */
import type { EventEmitter } from 'events'
import type Corestore from 'corestore'
import type Hyperswarm from 'hyperswarm'
import type { Manifest } from '../lib/contract'
import type { NodeChannel } from '../lib/node-protocol'
import type { Client } from '../market/client'
import type { ContractWriter } from './notary'
import type { BotState, DeploymentRecord } from './records'
import type { Trader, Progress } from './trader'

export interface BotHost {
  readonly key: string
  readonly state: BotState
  readonly store: Corestore
  readonly swarm: Hyperswarm
  readonly client: Client
  readonly trader: Trader
  /** 'approval', 'progress', 'snapshot', 'challenge' … (bot.ts). */
  readonly events: EventEmitter
  readonly progress: Progress
  /** How long a bid may wait for a fill (ms). */
  readonly bidWindow: number
  /** The node's channel when connected; else asks the swarm for a connection and says null. */
  nodeChannel(node: string): NodeChannel | null
  /** Waits up to `timeout` ms for a connection; null when unreached. */
  reach(node: string, timeout: number): Promise<NodeChannel | null>
  /** Whether the bot reaches an indexer now: a bot cut off from the market cannot tell a dead node from its own isolation. */
  reachesMarket(): boolean
  writer(d: DeploymentRecord): Promise<ContractWriter>
  manifestOf(d: DeploymentRecord): Manifest
}
