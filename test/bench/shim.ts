/**
 * Benchmarks reuse the tests' helpers, which take brittle's Assert for two
 * things only: a temp dir and teardown. This stands in for both outside a test.
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import type { Assert } from 'brittle'

export function shim(): { t: Assert; done: () => Promise<void> } {
  const downs: Array<{ fn: () => unknown; order: number }> = []
  const t = {
    // removed after every other teardown (a bench's stores can be gigabytes: the archive's 10 GiB run left 15 GiB)
    tmp: async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-bench-'))
      downs.push({
        fn: () => fs.rmSync(dir, { recursive: true, force: true }),
        order: Number.MAX_SAFE_INTEGER
      })
      return dir
    },
    teardown: (fn: () => unknown, opts: { order?: number } = {}) => {
      downs.push({ fn, order: opts.order ?? 0 })
    }
  } as unknown as Assert
  return {
    t,
    done: async () => {
      for (const d of downs.reverse().sort((a, b) => a.order - b.order)) await d.fn()
    }
  }
}

export const ms = (since: bigint): number => Number(process.hrtime.bigint() - since) / 1e6
