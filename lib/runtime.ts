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
