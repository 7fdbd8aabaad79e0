/**
 * Hyperbee keeps the nodes it read in a cache, but not the blocks a batch wrote: the next apply call walked the
 * tree it had just written by reading each block back from RocksDB, one round trip to its thread pool per miss
 * (an indexer's largest cost). `flushCached` flushes a batch and puts its blocks in the bee's node cache as a read
 * would have. It leans on Hyperbee 2 internals (its node cache, block encoding, `toBlocks`), pinned in package.json.
 */
import type Hyperbee from 'hyperbee'
import type { Batch } from 'hyperbee'
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Node } = require('hyperbee/lib/messages') as {
  Node: { decode(buf: Buffer): { key: Buffer; value: Buffer | null; index: Buffer | null } }
}

interface Internals {
  _nodeCache: { set(seq: number, node: unknown): void } | null
}

export async function flushCached(batch: Batch, bee: Hyperbee): Promise<void> {
  const start = bee.core.length
  const blocks =
    (batch as unknown as { length: number; toBlocks(): Buffer[] }).length > 0
      ? (batch as unknown as { toBlocks(): Buffer[] }).toBlocks()
      : []
  await batch.flush()
  const cache = (bee as unknown as Internals)._nodeCache
  // A truncation or another writer in between would make the seqs wrong: cache nothing then.
  if (cache === null || blocks.length === 0 || bee.core.length !== start + blocks.length) return
  for (let i = 0; i < blocks.length; i++) {
    // Its own memory, as Hyperbee copies what it caches: a slice would pin a pooled slab.
    const own = Buffer.allocUnsafeSlow(blocks[i].byteLength)
    blocks[i].copy(own)
    cache.set(start + i, { ...Node.decode(own), inflated: null })
  }
}
