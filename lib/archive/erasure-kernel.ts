/**
 * The one hot loop of the erasure code, as a WebAssembly module assembled
 * here byte by byte (no toolchain, no binary in the repo): `mulxor(src, dst,
 * len, table)` does dst[i] ^= c·src[i] in GF(2^8) for `len` bytes (a multiple
 * of STEP), where `table` holds c's two 16-byte nibble tables. With SIMD
 * `i8x16.swizzle` a 16-byte lane is multiplied by two table lookups, the
 * split-table method of ISA-L and klauspost/reedsolomon. Node and Bare both
 * run WASM SIMD.
 */

/** Bytes handled per loop turn (4 lanes of 16): lengths are rounded up to it. */
export const STEP = 64

const I32 = 0x7f
const V128 = 0x7b

function uleb(n: number): number[] {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n !== 0) b |= 0x80
    out.push(b)
  } while (n !== 0)
  return out
}

/** i32.const takes a signed LEB128: 64 as an unsigned one would read back as -64. */
function sleb(n: number): number[] {
  const out: number[] = []
  for (;;) {
    const b = n & 0x7f
    n >>= 7
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b]
    out.push(b | 0x80)
  }
}

const name = (s: string): number[] => [
  ...uleb(s.length),
  ...Array.from(s, (ch) => ch.charCodeAt(0))
]
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body]
const simd = (op: number): number[] => [0xfd, ...uleb(op)]
const get = (i: number): number[] => [0x20, i]
const set = (i: number): number[] => [0x21, i]
// memarg: alignment hint 0 (any address), then the offset
const load = (offset: number): number[] => [...simd(0x00), 0, ...uleb(offset)]
const store = (offset: number): number[] => [...simd(0x0b), 0, ...uleb(offset)]
const SWIZZLE = simd(0x0e)
const AND = simd(0x4e)
const XOR = simd(0x51)
const SHR_U = simd(0x6d) // i8x16.shr_u
const ADD = 0x6a // i32.add
const GE_U = 0x4f // i32.ge_u
const CONST = 0x41 // i32.const

// params: 0 src, 1 dst, 2 len, 3 table; locals: 4 low table, 5 high table, 6 0x0f mask, 7 end
function body(): number[] {
  const b: number[] = []
  b.push(...get(3), ...load(0), ...set(4))
  b.push(...get(3), ...load(16), ...set(5))
  b.push(...simd(0x0c), ...new Array<number>(16).fill(0x0f), ...set(6))
  b.push(...get(0), ...get(2), ADD, ...set(7))
  b.push(0x02, 0x40, 0x03, 0x40) // block, loop
  b.push(...get(0), ...get(7), GE_U, 0x0d, 1) // br_if out when src >= end
  for (let lane = 0; lane < STEP; lane += 16) {
    b.push(...get(1)) // where the result goes
    b.push(...get(1), ...load(lane))
    b.push(...get(4), ...get(0), ...load(lane), ...get(6), ...AND, ...SWIZZLE, ...XOR)
    b.push(...get(5), ...get(0), ...load(lane), CONST, 4, ...SHR_U, ...SWIZZLE, ...XOR)
    b.push(...store(lane))
  }
  b.push(...get(0), CONST, ...sleb(STEP), ADD, ...set(0))
  b.push(...get(1), CONST, ...sleb(STEP), ADD, ...set(1))
  b.push(0x0c, 0, 0x0b, 0x0b, 0x0b) // br loop, end loop, end block, end func
  const locals = [2, 3, V128, 1, I32]
  return [...uleb(locals.length + b.length), ...locals, ...b]
}

/** The module's bytes: it exports `mulxor` and a memory of `pages` 64 KiB pages. */
export function kernelModule(pages: number): Uint8Array {
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 4, I32, I32, I32, I32, 0]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0, ...uleb(pages)]),
    ...section(7, [2, ...name('mulxor'), 0, 0, ...name('memory'), 2, 0]),
    ...section(10, [1, ...body()])
  ])
}

export interface Kernel {
  memory: Uint8Array
  mulxor(src: number, dst: number, len: number, table: number): void
}

export function instantiateKernel(bytes: number): Kernel {
  const pages = Math.ceil(bytes / 65536)
  const instance = new WebAssembly.Instance(new WebAssembly.Module(kernelModule(pages)))
  const exports = instance.exports as unknown as {
    memory: WebAssembly.Memory
    mulxor: Kernel['mulxor']
  }
  return { memory: new Uint8Array(exports.memory.buffer), mulxor: exports.mulxor }
}
