/**
 * Reed-Solomon erasure coding over GF(2^8) (docs/ARCHITECTURE.md "Archives"): k data shards
 * and m parity shards, any k of which give back the rest. Systematic: the data
 * shards are the stripe itself, so a read of the k data holders decodes
 * nothing. The parity rows are a Cauchy matrix, every square submatrix of which
 * is invertible, so any k rows of [I; C] are (MDS). The byte loop is the WASM
 * SIMD kernel of erasure-kernel.ts; this file holds the matrices and the
 * stripe buffers, which live inside the kernel's memory so nothing is copied
 * in or out to code a stripe.
 */
import { ScitError } from '../errors'
import { instantiateKernel, Kernel, STEP } from './erasure-kernel'

const EXP = new Uint8Array(512)
const LOG = new Uint8Array(256)
{
  let x = 1
  for (let i = 0; i < 255; i++) {
    EXP[i] = x
    LOG[x] = i
    x <<= 1
    if (x & 0x100) x ^= 0x11d
  }
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255]
}

export function gfMul(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]]
}

function gfInv(a: number): number {
  if (a === 0) throw new Error('0 has no inverse')
  return EXP[255 - LOG[a]]
}

/** Row `r` of the encoding matrix [I; C] (k columns). */
function encodingRow(k: number, r: number): Uint8Array {
  const row = new Uint8Array(k)
  if (r < k) row[r] = 1
  else for (let j = 0; j < k; j++) row[j] = gfInv(r ^ j) // x_i = r = k + i, y_j = j: distinct, disjoint
  return row
}

/** Gauss-Jordan over GF(2^8); the rows of an MDS matrix are never singular. */
function invert(rows: Uint8Array[]): Uint8Array[] {
  const n = rows.length
  const a = rows.map((r) => Uint8Array.from(r))
  const inv = rows.map((_, i) => {
    const r = new Uint8Array(n)
    r[i] = 1
    return r
  })
  for (let col = 0; col < n; col++) {
    let p = col
    while (p < n && a[p][col] === 0) p++
    if (p === n) throw new Error('singular matrix')
    ;[a[col], a[p]] = [a[p], a[col]]
    ;[inv[col], inv[p]] = [inv[p], inv[col]]
    const f = gfInv(a[col][col])
    for (let j = 0; j < n; j++) {
      a[col][j] = gfMul(a[col][j], f)
      inv[col][j] = gfMul(inv[col][j], f)
    }
    for (let r = 0; r < n; r++) {
      const g = a[r][col]
      if (r === col || g === 0) continue
      for (let j = 0; j < n; j++) {
        a[r][j] ^= gfMul(g, a[col][j])
        inv[r][j] ^= gfMul(g, inv[col][j])
      }
    }
  }
  return inv
}

/** Most shards a code may have: GF(2^8) has 256 distinct points. */
export const MAX_SHARDS = 256

export function checkCode(k: number, m: number): void {
  if (!Number.isInteger(k) || !Number.isInteger(m) || k < 1 || m < 1 || k + m > MAX_SHARDS)
    throw new ScitError(
      'INVALID_ARGUMENT',
      `a code needs at least 1 data and 1 parity shard and at most ${MAX_SHARDS} in all, not ${k}+${m}`
    )
}

const TABLES = 256 * 32

/**
 * One coder for stripes of up to `maxBlock` bytes per shard. `shards(size)`
 * gives the k + m buffers of the current stripe: write the data shards,
 * `encode()`, read the parity; or write any k, `reconstruct()` the others.
 * The buffers are overwritten by the next stripe.
 */
export class ErasureCode {
  readonly n: number
  private readonly kernel: Kernel
  private readonly stride: number
  private readonly base = TABLES
  private size = 0
  private readonly decoders = new Map<string, Uint8Array[]>()

  constructor(
    readonly k: number,
    readonly m: number,
    readonly maxBlock: number
  ) {
    checkCode(k, m)
    this.n = k + m
    this.stride = Math.ceil(maxBlock / STEP) * STEP
    this.kernel = instantiateKernel(TABLES + this.n * this.stride)
    const mem = this.kernel.memory
    for (let c = 0; c < 256; c++) {
      for (let x = 0; x < 16; x++) {
        mem[c * 32 + x] = gfMul(c, x)
        mem[c * 32 + 16 + x] = gfMul(c, x << 4)
      }
    }
  }

  /** The stripe's k + m shard buffers, each `size` bytes (≤ maxBlock). */
  shards(size: number): Uint8Array[] {
    if (size < 0 || size > this.maxBlock)
      throw new ScitError('INVALID_ARGUMENT', `a shard block is at most ${this.maxBlock} bytes`)
    this.size = size
    const mem = this.kernel.memory
    return Array.from({ length: this.n }, (_, i) => {
      const at = this.base + i * this.stride
      return mem.subarray(at, at + size)
    })
  }

  /** Parity from data, for the stripe `shards()` last handed out. */
  encode(): void {
    for (let i = this.k; i < this.n; i++) this.combine(encodingRow(this.k, i), allData(this.k), i)
  }

  /**
   * Rebuild `targets` from the `present` shard indexes (at least k of them;
   * the first k are used).
   */
  reconstruct(present: number[], targets: number[]): void {
    const use = [...present].sort((a, b) => a - b).slice(0, this.k)
    if (use.length < this.k || new Set(use).size < this.k)
      throw new ScitError(
        'NOT_FOUND',
        `${use.length} distinct shards of ${this.k} needed to rebuild a stripe`
      )
    const inv = this.decoder(use)
    for (const t of targets) {
      if (use.includes(t)) continue
      // target row × inverse: the coefficients of the present shards that give shard t
      const row = encodingRow(this.k, t)
      const coef = new Uint8Array(this.k)
      for (let j = 0; j < this.k; j++) {
        if (row[j] === 0) continue
        for (let c = 0; c < this.k; c++) coef[c] ^= gfMul(row[j], inv[j][c])
      }
      this.combine(coef, use, t)
    }
  }

  private decoder(use: number[]): Uint8Array[] {
    const id = use.join(',')
    let inv = this.decoders.get(id)
    if (!inv) {
      inv = invert(use.map((r) => encodingRow(this.k, r)))
      if (this.decoders.size > 64) this.decoders.clear()
      this.decoders.set(id, inv)
    }
    return inv
  }

  /** dst = Σ coef[c] · shard[src[c]], in the kernel. */
  private combine(coef: Uint8Array, src: number[], dst: number): void {
    const len = Math.ceil(this.size / STEP) * STEP
    const at = (i: number): number => this.base + i * this.stride
    this.kernel.memory.fill(0, at(dst), at(dst) + len)
    for (let c = 0; c < src.length; c++)
      if (coef[c] !== 0) this.kernel.mulxor(at(src[c]), at(dst), len, coef[c] * 32)
  }
}

function allData(k: number): number[] {
  return Array.from({ length: k }, (_, i) => i)
}
