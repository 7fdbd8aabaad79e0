declare module 'b4a' {
  namespace b4a {
    export function from(input: string, encoding?: BufferEncoding): Buffer
    export function from(input: Uint8Array | ArrayBuffer | number[]): Buffer
    /** A Buffer over that memory, no copy. */
    export function from(input: ArrayBufferLike, byteOffset: number, length: number): Buffer
    export function alloc(size: number, fill?: number): Buffer
    export function allocUnsafe(size: number): Buffer
    export function concat(list: Uint8Array[], totalLength?: number): Buffer
    export function equals(a: Uint8Array, b: Uint8Array): boolean
    export function compare(a: Uint8Array, b: Uint8Array): number
    export function toString(
      buf: Uint8Array,
      encoding?: BufferEncoding,
      start?: number,
      end?: number
    ): string
    export function isBuffer(value: unknown): value is Buffer
    export function byteLength(input: string | Uint8Array, encoding?: BufferEncoding): number
  }
  export = b4a
}
