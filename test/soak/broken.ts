/**
 * A deliberately broken engine, for the test that shows the soak can fail (test/soak.test.ts): a copy of dist/
 * with one rule removed, run by the soak's indexers only. Nothing in the product has a switch for it.
 */
import fs from 'fs'
import path from 'path'

export const BROKEN = {
  /** settle locks escrow without taking it from the bot's balance: money is created. */
  'escrow-debit': {
    file: 'market/engine/money.js',
    from: 'setBalance)(ctx.tx, ctx.author, have - escrow)',
    to: 'setBalance)(ctx.tx, ctx.author, have)',
    invariant: 'money'
  },
  /** a match does not take the capacity it sold from the offer: the same capacity is sold again. */
  'capacity-take': {
    file: 'market/engine/book.js',
    from: 'available: (0, resources_1.subtract)(offer.available, (0, resources_1.scale)(bid.resources, take))',
    to: 'available: offer.available',
    invariant: 'capacity'
  }
} as const

export type Broken = keyof typeof BROKEN

/** Copy dist/ into `dir` with `variant`'s rule removed; returns the copy's root (run it with NODE_PATH set). */
export function buildBroken(variant: Broken, dir: string): string {
  const dist = path.join(__dirname, '..', '..')
  const out = path.join(dir, 'dist-broken')
  fs.cpSync(dist, out, { recursive: true })
  const b = BROKEN[variant]
  const file = path.join(out, b.file)
  const text = fs.readFileSync(file, 'utf8')
  if (!text.includes(b.from))
    throw new Error(`broken variant ${variant}: "${b.from}" is not in ${b.file} any more`)
  fs.writeFileSync(file, text.replace(b.from, b.to))
  return out
}

/** Where the copy finds its dependencies. */
export const NODE_PATH = path.join(__dirname, '..', '..', '..', 'node_modules')
