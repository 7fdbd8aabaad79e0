/** Random data for archive tests: `count` blocks of `size` bytes, so no two cores share a block. */
import b4a from 'b4a'
import sodium from 'sodium-universal'

export const BLOCK = 64 * 1024

export function randomBlocks(count: number, size = BLOCK): Buffer[] {
  return Array.from({ length: count }, () => {
    const block = b4a.alloc(size)
    sodium.randombytes_buf(block)
    return block
  })
}
