/**
 * The runtime scit runs on: Node, or Bare (Pear's runtime), where
 * bin/scit-bare.js maps Node's built-ins to Bare's (bare-node-runtime).
 * The compiled code is the same; the few places that differ ask here.
 */
import { ScitError } from './errors'

export type Runtime = 'node' | 'bare'

export const RUNTIME: Runtime = 'Bare' in globalThis ? 'bare' : 'node'
export const BARE = RUNTIME === 'bare'

/** What scit cannot do on Bare: `error UNSUPPORTED: WHAT on Bare`. */
export function unsupportedOnBare(what: string): ScitError {
  return new ScitError('UNSUPPORTED', `${what} on Bare`)
}

/**
 * V8 lets a busy daemon's heap grow to about 3.5 times what it holds before it collects: an indexer of the market
 * simulation held 78 MiB live in a 280 MiB heap (`npm run bench -- market-sim`, HEAP_SNAPSHOT). V8 reads this
 * factor at each collection, so setting it once running takes effect (Bare: its own engine settings, left alone).
 */
export const HEAP_GROWING_PERCENT = 25

export function boundHeapGrowth(percent = HEAP_GROWING_PERCENT): void {
  if (BARE || percent <= 0) return
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const v8 = require('v8') as typeof import('v8')
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`)
}
