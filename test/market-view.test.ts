import test from 'brittle'
import b4a from 'b4a'
import { MemoryView } from '../market/memory-view'
import { Tx } from '../market/engine/tx'
import { ApplyView } from '../market/apply-view'
import type { RangeOptions, View } from '../market/types'
import { prng } from './helpers/market'

async function collect(view: Pick<View, 'range'>, opts: RangeOptions): Promise<string[]> {
  const out: string[] = []
  for await (const { key, value } of view.range(opts)) out.push(`${key}=${value.toString()}`)
  return out
}

/** The obvious reference: sort everything, filter, slice. */
function reference(entries: Map<string, string>, o: RangeOptions): string[] {
  let keys = [...entries.keys()]
    .sort()
    .filter(
      (k) =>
        (o.gt === undefined || k > o.gt) &&
        (o.gte === undefined || k >= o.gte) &&
        (o.lt === undefined || k < o.lt) &&
        (o.lte === undefined || k <= o.lte)
    )
  if (o.reverse === true) keys.reverse()
  if (o.limit !== undefined) keys = keys.slice(0, Math.max(0, o.limit))
  return keys.map((k) => `${k}=${entries.get(k) ?? ''}`)
}

function randomOpts(rand: () => number, key: () => string): RangeOptions {
  const o: RangeOptions = {}
  if (rand() < 0.5) o[rand() < 0.5 ? 'gt' : 'gte'] = key()
  if (rand() < 0.5) o[rand() < 0.5 ? 'lt' : 'lte'] = key()
  if (rand() < 0.4) o.reverse = true
  if (rand() < 0.3) o.limit = Math.floor(rand() * 20)
  return o
}

test('MemoryView ranges match a sorted reference through many puts and dels', async (t) => {
  const rand = prng(5)
  const key = (): string =>
    `k/${Math.floor(rand() * 3000)
      .toString(36)
      .padStart(3, '0')}`
  const view = new MemoryView()
  const ref = new Map<string, string>()
  let checked = 0
  for (let i = 0; i < 6000; i++) {
    const k = key()
    if (rand() < 0.3) {
      await view.del(k)
      ref.delete(k)
    } else {
      await view.put(k, b4a.from(String(i)))
      ref.set(k, String(i))
    }
    if (i % 50 === 0) {
      const o = randomOpts(rand, key)
      t.alike(await collect(view, o), reference(ref, o), `range ${JSON.stringify(o)}`)
      checked++
    }
  }
  t.is(view.size, ref.size)
  t.ok(checked > 100)
  t.ok(b4a.equals(MemoryView.load(view.dump()).dump(), view.dump()), 'dump and load round-trip')
})

test('a range survives puts and dels made while it is being read', async (t) => {
  const view = new MemoryView()
  for (let i = 0; i < 1000; i++) view.putSync(`a/${String(i).padStart(4, '0')}`, b4a.from('x'))
  const seen: string[] = []
  for await (const { key } of view.range({ gte: 'a/', lt: 'a/\xff' })) {
    seen.push(key)
    view.delSync(key)
    if (seen.length === 1) view.putSync('a/0000x', b4a.from('y'))
  }
  t.is(seen.length, 1001, 'a key added ahead of the cursor is seen once, nothing skipped')
  t.is(view.size, 0)
})

test('Tx: staged writes shadow the view in get and range, and commit lands them', async (t) => {
  const rand = prng(9)
  const key = (): string =>
    `t/${Math.floor(rand() * 200)
      .toString()
      .padStart(3, '0')}`
  for (let round = 0; round < 30; round++) {
    const view = new MemoryView()
    const ref = new Map<string, string>()
    for (let i = 0; i < 100; i++) {
      const k = key()
      view.putSync(k, b4a.from(`v${i}`))
      ref.set(k, `v${i}`)
    }
    const tx = new Tx(view)
    for (let i = 0; i < 40; i++) {
      const k = key()
      if (rand() < 0.4) {
        tx.del(k)
        ref.delete(k)
      } else {
        tx.put(k, b4a.from(`s${i}`))
        ref.set(k, `s${i}`)
      }
    }
    for (let q = 0; q < 5; q++) {
      const o = randomOpts(rand, key)
      t.alike(await collect(tx, o), reference(ref, o))
    }
    const k = key()
    t.is((await tx.get(k))?.toString() ?? null, ref.get(k) ?? null)
    await tx.commit()
    t.alike(await collect(view, {}), reference(ref, {}), 'committed')
  }
})

test('ApplyView: cached gets and ranges read exactly what the view under it holds, its own writes included', async (t) => {
  const rand = prng(13)
  const key = (): string =>
    `${rand() < 0.5 ? 'offer' : 'other'}/${Math.floor(rand() * 300)
      .toString()
      .padStart(3, '0')}`
  const inner = new MemoryView()
  const ref = new Map<string, string>()
  for (let i = 0; i < 200; i++) {
    const k = key()
    inner.putSync(k, b4a.from(`v${i}`))
    ref.set(k, `v${i}`)
  }
  const view = new ApplyView(inner)
  let hot = 0
  for (let i = 0; i < 3000; i++) {
    const k = key()
    const r = rand()
    if (r < 0.25) {
      await view.del(k)
      ref.delete(k)
    } else if (r < 0.6) {
      await view.put(k, b4a.from(`w${i}`))
      ref.set(k, `w${i}`)
    }
    t.is((await view.get(k))?.toString() ?? null, ref.get(k) ?? null)
    if (i % 20 === 0) {
      // Half the ranges fall inside one prefix the cache holds values of, half are random.
      const o =
        rand() < 0.5
          ? {
              gte: 'offer/',
              lt: 'offer/\xff',
              ...(rand() < 0.3 ? { reverse: true } : {}),
              ...(rand() < 0.3 ? { limit: 7 } : {})
            }
          : randomOpts(rand, key)
      if (o.gte === 'offer/') hot++
      t.alike(await collect(view, o), reference(ref, o), `range ${JSON.stringify(o)}`)
    }
  }
  t.ok(hot > 30, 'prefix ranges were exercised')
  t.alike(await collect(inner, {}), reference(ref, {}), 'every write reached the view under it')
})
