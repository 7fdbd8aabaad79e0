/**
 * Clear a range of a hypercore's blocks, keeping its merkle tree whole. Hypercore 11.37.1's clear() (and its
 * newest source still) also deletes the tree nodes of every LEFT sibling on the path up from `start`, blocks
 * kept or not (its "fully cleared" test, `s <= start && e <= end`, holds for any left sibling): the core then
 * still holds the block before the range but can no longer prove it, and a peer that asks for it gets the
 * whole connection destroyed (`INVALID_OPERATION: Expected tree node 2 from storage, got (nil)`), every
 * protocol on it with it. Blocks are the bulk of a cleared range; its tree nodes are ~40 bytes a block.
 */
import type Hypercore from 'hypercore'

interface WriteBatch {
  deleteTreeNode(index: number): void
}
interface SessionState {
  createWriteBatch(): WriteBatch
}

const clearing = new WeakMap<SessionState, number>()

/** `core.clear(start, end)` with no tree node deleted; a start of 0 has no left sibling to lose, so is left alone. */
export async function clearBlocks(core: Hypercore, start: number, end: number): Promise<void> {
  if (start === 0) {
    await core.clear(start, end)
    return
  }
  const state = (core as unknown as { state: SessionState }).state
  const n = clearing.get(state) ?? 0
  // clear() takes its batch from the session state after its lock: while one runs, batches skip tree deletes
  if (n === 0) {
    const make = Object.getPrototypeOf(state).createWriteBatch as SessionState['createWriteBatch']
    state.createWriteBatch = function (this: SessionState): WriteBatch {
      const tx = make.call(this)
      tx.deleteTreeNode = () => {}
      return tx
    }
  }
  clearing.set(state, n + 1)
  try {
    await core.clear(start, end)
  } finally {
    const left = (clearing.get(state) ?? 1) - 1
    clearing.set(state, left)
    if (left === 0) delete (state as Partial<SessionState>).createWriteBatch
  }
}
