import test from 'brittle'
import b4a from 'b4a'
import sodium from 'sodium-universal'
import { ErasureCode, gfMul, checkCode } from '../lib/archive/erasure'
import { isScitError } from '../lib/errors'

function random(size: number): Buffer {
  const b = b4a.alloc(size)
  sodium.randombytes_buf(b)
  return b
}

/** Shard indexes to lose: `count` distinct ones, chosen by `seed`. */
function lose(n: number, count: number, seed: number): number[] {
  const all = Array.from({ length: n }, (_, i) => i)
  const out: number[] = []
  let x = seed
  while (out.length < count) {
    x = (x * 1103515245 + 12345) % 2147483648
    const i = all.splice(x % all.length, 1)[0]
    out.push(i)
  }
  return out
}

test('parity from the kernel equals the scalar GF(2^8) sum of the Cauchy rows', (t) => {
  const code = new ErasureCode(4, 2, 256)
  const shards = code.shards(100)
  const data = [0, 1, 2, 3].map(() => random(100))
  data.forEach((d, i) => shards[i].set(d))
  code.encode()
  const inv = (a: number): number => {
    for (let x = 1; x < 256; x++) if (gfMul(a, x) === 1) return x
    return 0
  }
  for (let p = 0; p < 2; p++) {
    for (const at of [0, 1, 63, 64, 99]) {
      let v = 0
      for (let j = 0; j < 4; j++) v ^= gfMul(inv((4 + p) ^ j), data[j][at])
      t.is(shards[4 + p][at], v, `parity ${p} byte ${at}`)
    }
  }
})

test('any m lost shards of a stripe are rebuilt byte for byte (4+2 and 20+10, odd sizes)', (t) => {
  for (const [k, m] of [
    [4, 2],
    [20, 10]
  ]) {
    const code = new ErasureCode(k, m, 64 * 1024)
    for (const size of [0, 1, 17, 64, 1000, 64 * 1024]) {
      for (let seed = 1; seed <= 3; seed++) {
        const shards = code.shards(size)
        for (let i = 0; i < k; i++) shards[i].set(random(size))
        code.encode()
        const want = shards.map((s) => b4a.from(s))
        const lost = lose(k + m, m, seed * size + k)
        for (const i of lost) shards[i].fill(0xaa)
        const present = want.map((_, i) => i).filter((i) => !lost.includes(i))
        code.reconstruct(present, lost)
        const bad = shards.findIndex((s, i) => !b4a.equals(s, want[i]))
        if (bad !== -1) t.fail(`${k}+${m} size ${size}: shard ${bad} differs after losing ${lost}`)
      }
    }
    t.pass(`${k}+${m}: every stripe rebuilt`)
  }
})

test('fewer than k shards, or a code out of range, is a typed error', (t) => {
  const code = new ErasureCode(4, 2, 64)
  code.shards(64)
  try {
    code.reconstruct([0, 1, 2], [3])
    t.fail('rebuilt from 3 of 4')
  } catch (err) {
    t.ok(isScitError(err, 'NOT_FOUND'), (err as Error).message)
  }
  for (const [k, m] of [
    [0, 2],
    [4, 0],
    [200, 57]
  ]) {
    try {
      checkCode(k, m)
      t.fail(`${k}+${m} accepted`)
    } catch (err) {
      t.ok(isScitError(err, 'INVALID_ARGUMENT'), (err as Error).message)
    }
  }
})
