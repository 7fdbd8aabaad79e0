declare module 'hypercore-crypto' {
  export function keyPair(seed?: Buffer): { publicKey: Buffer; secretKey: Buffer }
  export function discoveryKey(publicKey: Buffer): Buffer
  export function randomBytes(n: number): Buffer
  export function hash(data: Buffer | Buffer[]): Buffer
  export function sign(message: Buffer, secretKey: Buffer): Buffer
  /** Merkle tree hashing, as Hypercore does it: a leaf, a parent of two nodes, and the tree hash of the roots (what a core's writer signs). */
  export function data(block: Buffer): Buffer
  export function parent(
    a: { index: number; size: number; hash: Buffer },
    b: { index: number; size: number; hash: Buffer }
  ): Buffer
  export function tree(roots: Array<{ index: number; size: number; hash: Buffer }>): Buffer
  export function verify(message: Buffer, signature: Buffer, publicKey: Buffer): boolean
}
