/**
 * The node protocol's messages, declared once: the "scit/node/v2" protomux
 * channel (node/protocol.ts) that a node and its peers speak on a connection.
 *
 * What a node publishes for anyone to read (its status and log cores, its DHT
 * presence record) is declared in lib/node-messages.ts, since bots and the
 * explorer read it too.
 *
 * Every body is decoded strictly (lib/codec decodeExact): one value, one encoding.
 */
import c from 'compact-encoding'
import { struct, optional, nonNullBuffer } from '../lib/codec'
import { stateEncoding, portMapping, WorkloadState, PortMapping } from '../lib/node-messages'

export const PROTOCOL = 'scit/node/v2'

export interface Ping { id: number; nonce: Buffer }
export const ping = struct<Ping>([['id', c.uint], ['nonce', c.fixed32]])

export interface StatusRequest { id: number }
export const statusRequest = struct<StatusRequest>([['id', c.uint]])

export interface WorkloadSummary { id: string; kind: string; state: WorkloadState; reason: string; since: number; restarts: number; ports: PortMapping[] }
export interface StatusSummary { id: number; node: Buffer; statusCore: Buffer; logCore: Buffer; workloads: WorkloadSummary[] }
const workloadSummary = struct<WorkloadSummary>([
  ['id', c.string], ['kind', c.string], ['state', stateEncoding], ['reason', c.string], ['since', c.uint], ['restarts', c.uint], ['ports', c.array(portMapping)]
])
export const statusSummary = struct<StatusSummary>([
  ['id', c.uint], ['node', c.fixed32], ['statusCore', c.fixed32], ['logCore', c.fixed32], ['workloads', c.array(workloadSummary)]
])

/**
 * A storage challenge (node/storage-proof.ts): prove that blocks of `core`
 * are held by sending them with their Merkle paths, at the `length` the
 * challenger trusts. Which blocks (`count` of them) follows from the nonce.
 */
export interface Challenge { id: number; core: Buffer; nonce: Buffer; length: number; count: number }
export const challenge = struct<Challenge>([['id', c.uint], ['core', c.fixed32], ['nonce', c.fixed32], ['length', c.uint], ['count', c.uint]])

/** A node of a Hypercore's Merkle tree (flat-tree index, bytes under it, hash). */
export interface TreeNode { index: number; size: number; hash: Buffer }
export const treeNode = struct<TreeNode>([['index', c.uint], ['size', c.uint], ['hash', c.fixed32]])

/** One challenged block: its bytes and the sibling nodes from it up to its root. */
export interface BlockProof { index: number; value: Buffer; nodes: TreeNode[] }
export const blockProof = struct<BlockProof>([['index', c.uint], ['value', nonNullBuffer()], ['nodes', c.array(treeNode)]])

/** The answer: the tree's roots at the challenged length, and one proof per challenged block, in order. */
export interface ChallengeAnswer { id: number; error: string | null; roots: TreeNode[]; blocks: BlockProof[] }
export const challengeAnswer = struct<ChallengeAnswer>([['id', c.uint], ['error', optional(c.string)], ['roots', c.array(treeNode)], ['blocks', c.array(blockProof)]])
