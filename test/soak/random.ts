/** A seeded PRNG (mulberry32): the same seed gives the same schedule on every machine. */
export class Random {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  /** In [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.next() * list.length)]
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  /** An exponential gap of mean `mean`, as faults that come independently of each other. */
  gap(mean: number): number {
    return -Math.log(1 - this.next()) * mean
  }

  /** A child stream: the same seed and name always give the same sequence, whatever else was drawn. */
  fork(name: string): Random {
    let h = this.state
    for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0
    return new Random(h)
  }
}
