declare module 'z32' {
  namespace z32 {
    export function encode(buf: Uint8Array | string): string
    export function decode(s: string, out?: Buffer): Buffer
  }
  export = z32
}
