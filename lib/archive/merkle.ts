/**
 * Hypercore's Merkle tree computed outside a core: the bot builds each
 * shard's tree while it codes (the head it signs into the catalog), and a
 * reader checks fetched blocks against such a head. A holder keeps its shard
 * in a core of its own; a tree depends only on the blocks, so the holder's
 * core at that length has the same tree hash, and lib/storage-proof.ts
 * challenges it against the signed head unchanged.
 */
import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import type { TreeNode } from '../node-messages'
import type { SignedHead } from '../storage-proof'
import { depthOf, parentOf, siblingOf, fullRoots } from '../storage-proof'

export class TreeBuilder {
  private readonly roots: TreeNode[] = []
  length = 0
  byteLength = 0

  append(block: Buffer): void {
    let node: TreeNode = {
      index: 2 * this.length,
      size: block.byteLength,
      hash: crypto.data(block)
    }
    this.length++
    this.byteLength += block.byteLength
    // like a binary carry: equal depths at the end of the stack are siblings
    while (this.roots.length > 0) {
      const left = this.roots[this.roots.length - 1]
      if (depthOf(left.index) !== depthOf(node.index)) break
      this.roots.pop()
      node = {
        index: parentOf(left.index),
        size: left.size + node.size,
        hash: crypto.parent(left, node)
      }
    }
    this.roots.push(node)
  }

  head(): SignedHead {
    return { length: this.length, treeHash: crypto.tree(this.roots) }
  }
}

/** Cap on remembered verified nodes; past it the verifier starts again from the roots. */
const KNOWN = 4096

/**
 * Checks blocks of a tree of `head.length` leaves one by one, each with its
 * path of siblings; nodes already verified end a climb early, so reading a
 * range costs a hash or two per block.
 */
export class BlockVerifier {
  private known = new Map<number, TreeNode>()
  private readonly roots: TreeNode[]

  /** Null when `roots` are not those of the head. */
  static from(head: SignedHead, roots: TreeNode[]): BlockVerifier | null {
    const want = fullRoots(head.length)
    if (roots.length !== want.length || roots.some((r, i) => r.index !== want[i])) return null
    if (!b4a.equals(crypto.tree(roots), head.treeHash)) return null
    return new BlockVerifier(roots)
  }

  private constructor(roots: TreeNode[]) {
    this.roots = roots
    this.reset()
  }

  verify(index: number, value: Buffer, path: TreeNode[]): boolean {
    let node: TreeNode = { index: 2 * index, size: value.byteLength, hash: crypto.data(value) }
    const seen: TreeNode[] = []
    for (let i = 0; ; i++) {
      const have = this.known.get(node.index)
      if (have !== undefined) {
        if (have.size !== node.size || !b4a.equals(have.hash, node.hash)) return false
        break
      }
      const sibling = path[i]
      if (sibling === undefined || sibling.index !== siblingOf(node.index)) return false
      seen.push(node, sibling)
      const [l, r] = sibling.index < node.index ? [sibling, node] : [node, sibling]
      node = { index: parentOf(node.index), size: l.size + r.size, hash: crypto.parent(l, r) }
    }
    if (this.known.size + seen.length > KNOWN) this.reset()
    for (const n of seen) this.known.set(n.index, n)
    return true
  }

  private reset(): void {
    this.known = new Map(this.roots.map((r) => [r.index, r]))
  }
}
