/**
 * What a node publishes for anyone to read, declared once: the node writes
 * these, bots and the explorer verify and read them.
 *
 *   status core    `status` envelopes, body StatusRecord   (one per workload state transition)
 *   log core       `log` envelopes, body LogRecord         (bounded chunks of stdout/stderr)
 *   DHT presence   a `presence` envelope, body PresenceRecord (mutable record under the node key)
 *
 * And the messages of the node protocol, the "scit/node/v2" protomux channel
 * a node and its peers speak on a connection (lib/node-protocol.ts): ping,
 * status summary, storage challenge and its answer.
 *
 * Every body is decoded strictly (lib/codec decodeExact): one value, one encoding.
 */
import c from 'compact-encoding'
import { struct, optional, enumOf, nonNullBuffer, versioned } from './codec'
import type { Resources } from './resources'

export const PRESENCE_VERSION = 1
/** 2: a service's records name its manifest workload (`service`) with the port keys, so contract, trade, workload, port and key are signed together. */
export const STATUS_VERSION = 2

/** The states a workload moves through on a node (node/workload.ts), as its status core records them. */
export const WORKLOAD_STATES = [
  'verifying',
  'refused',
  'starting',
  'running',
  'exited',
  'failed',
  'stopped'
] as const
export type WorkloadState = (typeof WORKLOAD_STATES)[number]

/** A declared port and the key of the HyperDHT server this replica serves it under (lib/service.ts). */
export interface PortMapping {
  port: number
  key: Buffer
}

export const resourcesEncoding = struct<Resources>([
  ['cpu', c.uint],
  ['memory', c.uint],
  ['ssd', c.uint],
  ['hdd', c.uint],
  ['ipv4', c.uint],
  ['gpu', c.uint]
])
export const portMapping = struct<PortMapping>([
  ['port', c.uint],
  ['key', c.fixed32]
])
export const stateEncoding = enumOf<WorkloadState>(WORKLOAD_STATES)

export interface StatusRecord {
  workload: string
  state: WorkloadState
  reason: string
  exitCode: number | null
  signal: string | null
  stdout: Buffer | null // BLAKE2b-256 of a job's whole stdout
  output: Buffer | null // BLAKE2b-256 of a job's declared output file
  ports: PortMapping[]
  restarts: number
  contract: Buffer | null // the contract core the workload comes from
  trade: string | null
  stateCore: Buffer | null // the replica's state core (node/state-keeper.ts), when its service declares state
  service: string | null // the manifest's name of the workload, once its contract verified: what `ports` serve
}

export const statusRecord = versioned(
  STATUS_VERSION,
  'status record',
  struct<StatusRecord>([
    ['workload', c.string],
    ['state', stateEncoding],
    ['reason', c.string],
    ['exitCode', optional(c.int)],
    ['signal', optional(c.string)],
    ['stdout', optional(c.fixed32)],
    ['output', optional(c.fixed32)],
    ['ports', c.array(portMapping)],
    ['restarts', c.uint],
    ['contract', optional(c.fixed32)],
    ['trade', optional(c.string)],
    ['stateCore', optional(c.fixed32)],
    ['service', optional(c.string)]
  ])
)

export type Stream = 'stdout' | 'stderr'
export interface LogRecord {
  workload: string
  stream: Stream
  /** Bytes of this stream before this chunk; a gap means bytes were dropped (rate bound). */
  offset: number
  data: Buffer
}

export const logRecord = struct<LogRecord>([
  ['workload', c.string],
  ['stream', enumOf<Stream>(['stdout', 'stderr'])],
  ['offset', c.uint],
  ['data', nonNullBuffer()]
])

export interface PresenceRecord {
  version: number
  market: Buffer
  resources: Resources // capacity for sale
  free: Resources // not held by a lease
  prices: Resources
  country: string
  city: string
  attributes: string[]
  statusCore: Buffer
  logCore: Buffer
}

export const presenceRecord = struct<PresenceRecord>([
  ['version', c.uint],
  ['market', c.fixed32],
  ['resources', resourcesEncoding],
  ['free', resourcesEncoding],
  ['prices', resourcesEncoding],
  ['country', c.string],
  ['city', c.string],
  ['attributes', c.array(c.string)],
  ['statusCore', c.fixed32],
  ['logCore', c.fixed32]
])

// --- the node protocol ("scit/node/v2", lib/node-protocol.ts) ------------------------

export const PROTOCOL = 'scit/node/v2'

export interface Ping {
  id: number
  nonce: Buffer
}
export const ping = struct<Ping>([
  ['id', c.uint],
  ['nonce', c.fixed32]
])

export interface StatusRequest {
  id: number
}
export const statusRequest = struct<StatusRequest>([['id', c.uint]])

export interface WorkloadSummary {
  id: string
  kind: string
  state: WorkloadState
  reason: string
  since: number
  restarts: number
  ports: PortMapping[]
}
export interface StatusSummary {
  id: number
  node: Buffer
  statusCore: Buffer
  logCore: Buffer
  workloads: WorkloadSummary[]
}
const workloadSummary = struct<WorkloadSummary>([
  ['id', c.string],
  ['kind', c.string],
  ['state', stateEncoding],
  ['reason', c.string],
  ['since', c.uint],
  ['restarts', c.uint],
  ['ports', c.array(portMapping)]
])
export const statusSummary = struct<StatusSummary>([
  ['id', c.uint],
  ['node', c.fixed32],
  ['statusCore', c.fixed32],
  ['logCore', c.fixed32],
  ['workloads', c.array(workloadSummary)]
])

/**
 * A storage challenge (lib/storage-proof.ts): prove that blocks of `core`
 * are held by sending them with their Merkle paths, at the `length` the
 * challenger trusts. Which blocks (`count` of them) follows from the nonce.
 */
export interface Challenge {
  id: number
  core: Buffer
  nonce: Buffer
  length: number
  count: number
}
export const challenge = struct<Challenge>([
  ['id', c.uint],
  ['core', c.fixed32],
  ['nonce', c.fixed32],
  ['length', c.uint],
  ['count', c.uint]
])

/** A node of a Hypercore's Merkle tree (flat-tree index, bytes under it, hash). */
export interface TreeNode {
  index: number
  size: number
  hash: Buffer
}
export const treeNode = struct<TreeNode>([
  ['index', c.uint],
  ['size', c.uint],
  ['hash', c.fixed32]
])

/** One challenged block: its bytes and the sibling nodes from it up to its root. */
export interface BlockProof {
  index: number
  value: Buffer
  nodes: TreeNode[]
}
export const blockProof = struct<BlockProof>([
  ['index', c.uint],
  ['value', nonNullBuffer()],
  ['nodes', c.array(treeNode)]
])

/** The answer: the tree's roots at the challenged length, and one proof per challenged block, in order. */
export interface ChallengeAnswer {
  id: number
  error: string | null
  roots: TreeNode[]
  blocks: BlockProof[]
}
export const challengeAnswer = struct<ChallengeAnswer>([
  ['id', c.uint],
  ['error', optional(c.string)],
  ['roots', c.array(treeNode)],
  ['blocks', c.array(blockProof)]
])
