declare module 'hypercore-crypto' {
  export function keyPair(seed?: Buffer): { publicKey: Buffer; secretKey: Buffer }
  export function discoveryKey(publicKey: Buffer): Buffer
  export function randomBytes(n: number): Buffer
  export function hash(data: Buffer | Buffer[]): Buffer
  export function sign(message: Buffer, secretKey: Buffer): Buffer
  export function verify(message: Buffer, signature: Buffer, publicKey: Buffer): boolean
}
