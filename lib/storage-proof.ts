/**
 * Storage proofs for archives (docs/ARCHITECTURE.md "Execution"): a node answers a nonce with the
 * blocks it picks and their Merkle paths; the challenger checks them against a
 * signed tree head it trusts, never the node's word nor its own copy of the blocks.
 * Hashing and flat-tree numbering are Hypercore's documented ones, not its internals.
 */
import type Hypercore from 'hypercore'
import b4a from 'b4a'
import c from 'compact-encoding'
import crypto from 'hypercore-crypto'
import { ScitError } from './errors'
import { hash } from './keys'
import type { TreeNode, BlockProof } from './node-messages'

export const MAX_CHALLENGE_BLOCKS = 16
/** Bytes of block data in one answer, at most (a protomux message is below 16 MiB). */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024
/** A tree of 2^53 leaves is 53 high: deeper paths or more roots are malformed. */
const MAX_DEPTH = 64

/** What a core's writer signs (with the fork). */
export interface SignedHead {
  length: number
  treeHash: Buffer
}

export interface StorageProof {
  roots: TreeNode[]
  blocks: BlockProof[]
}

export type Verdict = { ok: true } | { ok: false; reason: string }

/** The blocks a challenge asks for: `count` distinct indexes below `length`, derived from the nonce. */
export function challengeIndexes(nonce: Buffer, length: number, count: number): number[] {
  const n = Math.min(count, length, MAX_CHALLENGE_BLOCKS)
  const picked: number[] = []
  for (let i = 0; picked.length < n; i++) {
    const h = hash('scit/node/challenge', nonce, c.encode(c.uint, length), c.encode(c.uint, i))
    // 48 bits stay below any safe-integer length, so the modulo bias is negligible
    const index = h.readUIntLE(0, 6) % length
    if (!picked.includes(index)) picked.push(index)
  }
  return picked
}

/** How many blocks to ask of `core` so an honest answer fits MAX_ANSWER_BYTES (blocks of average size). */
export function challengeCount(core: { length: number; byteLength: number }, want = 8): number {
  if (core.length === 0) return 0
  const average = Math.max(1, Math.ceil(core.byteLength / core.length))
  return Math.max(
    1,
    Math.min(want, MAX_CHALLENGE_BLOCKS, Math.floor(MAX_ANSWER_BYTES / 2 / average))
  )
}

/** The trusted head of a local replica, whose signature Hypercore checked on arrival. Null while empty. */
export async function signedHead(core: Hypercore): Promise<SignedHead | null> {
  const length = core.length
  if (length === 0) return null
  // the roots at `length` come from the tree: no block is needed
  const p = await core.proof({ upgrade: { start: 0, length } })
  if (p.upgrade === null) return null
  return { length, treeHash: crypto.tree(p.upgrade.nodes) }
}

/** Answer a challenge from the blocks held locally. Throws NOT_FOUND for a block not held, CAPACITY past MAX_ANSWER_BYTES. */
export async function proveStorage(
  core: Hypercore,
  nonce: Buffer,
  length: number,
  count: number
): Promise<StorageProof> {
  if (length === 0 || count === 0)
    throw new ScitError('INVALID_ARGUMENT', 'a challenge names a length and at least one block')
  if (length > core.length)
    throw new ScitError(
      'NOT_FOUND',
      `the core is at length ${core.length} here, the challenge is at ${length}`
    )
  const head = await core.proof({ upgrade: { start: 0, length } })
  if (head.upgrade === null) throw new ScitError('NOT_FOUND', 'no tree at that length')
  const blocks: BlockProof[] = []
  let bytes = 0
  for (const index of challengeIndexes(nonce, length, count)) {
    let p
    try {
      // nodes: 0 asks for the whole path, up to the root at `length`
      p = await core.proof({ block: { index, nodes: 0 }, upgrade: { start: 0, length } })
    } catch {
      p = null
    }
    const value = p?.block?.value ?? null
    if (p === null || p.block === null || value === null)
      throw new ScitError('NOT_FOUND', `block ${index} is not held`)
    bytes += value.byteLength
    if (bytes > MAX_ANSWER_BYTES)
      throw new ScitError(
        'CAPACITY',
        `the blocks asked exceed ${MAX_ANSWER_BYTES} bytes: ask for fewer`
      )
    blocks.push({ index, value, nodes: p.block.nodes.map(plain) })
  }
  return { roots: head.upgrade.nodes.map(plain), blocks }
}

/** Check an answer against the head the challenger trusts. Pure: no I/O, no trust in who sent it. */
export function verifyStorage(
  head: SignedHead,
  nonce: Buffer,
  count: number,
  proof: StorageProof
): Verdict {
  const fail = (reason: string): Verdict => ({ ok: false, reason })
  const want = fullRoots(head.length)
  if (proof.roots.length !== want.length || proof.roots.some((r, i) => r.index !== want[i]))
    return fail(`the roots are not those of a tree of length ${head.length}`)
  if (!b4a.equals(crypto.tree(proof.roots), head.treeHash))
    return fail('the roots do not hash to the signed tree')
  const indexes = challengeIndexes(nonce, head.length, count)
  if (proof.blocks.length !== indexes.length)
    return fail(`${proof.blocks.length} blocks answered, ${indexes.length} asked`)
  let bytes = 0
  for (let k = 0; k < indexes.length; k++) {
    const b = proof.blocks[k]
    if (b.index !== indexes[k])
      return fail(`answered block ${b.index}, asked ${indexes[k]}: not this challenge`)
    bytes += b.value.byteLength
    if (bytes > MAX_ANSWER_BYTES || b.nodes.length > MAX_DEPTH)
      return fail('the answer is larger than a challenge allows')
    let node: TreeNode = {
      index: 2 * b.index,
      size: b.value.byteLength,
      hash: crypto.data(b.value)
    }
    for (const sibling of b.nodes) {
      if (sibling.index !== siblingOf(node.index))
        return fail(`block ${b.index}: node ${sibling.index} is not on its path`)
      node = {
        index: parentOf(node.index),
        size: node.size + sibling.size,
        hash: crypto.parent(node, sibling)
      }
    }
    const root = proof.roots.find((r) => r.index === node.index)
    if (!root || root.size !== node.size || !b4a.equals(root.hash, node.hash))
      return fail(`block ${b.index} does not hash to a root of the signed tree`)
  }
  return { ok: true }
}

// --- flat-tree numbering: node index = 2^(depth+1) * offset + 2^depth - 1 ---------------

export function depthOf(index: number): number {
  let d = 0
  while (index % 2 === 1) {
    index = (index - 1) / 2
    d++
  }
  return d
}

function indexAt(depth: number, offset: number): number {
  return 2 ** (depth + 1) * offset + 2 ** depth - 1
}

function offsetOf(index: number, depth: number): number {
  return (index + 1 - 2 ** depth) / 2 ** (depth + 1)
}

export function siblingOf(index: number): number {
  const d = depthOf(index)
  const o = offsetOf(index, d)
  return indexAt(d, o % 2 === 0 ? o + 1 : o - 1)
}

export function parentOf(index: number): number {
  const d = depthOf(index)
  return indexAt(d + 1, Math.floor(offsetOf(index, d) / 2))
}

/** The roots of a tree of `length` leaves, left to right: one full subtree per one bit of the length. */
export function fullRoots(length: number): number[] {
  const roots: number[] = []
  let leaves = 0
  for (let d = MAX_DEPTH; d >= 0; d--) {
    const span = 2 ** d
    if (length - leaves >= span) {
      roots.push(indexAt(d, leaves / span))
      leaves += span
    }
  }
  return roots
}

function plain(n: TreeNode): TreeNode {
  return { index: n.index, size: n.size, hash: n.hash }
}
