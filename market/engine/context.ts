/** What every op handler gets: the staged writes, the engine time, the signer, and where to record what it caused. */
import type { Tx } from './tx'
import type { Effects, Id, KeyText, RejectReason } from '../types'
import type { Genesis } from '../messages'
import type { Priced } from './history'

export interface Ctx {
  tx: Tx
  id: Id // the op's envelope id
  author: KeyText
  now: number // engine time for this op (clamped, monotonic)
  since: number // engine time the view holds (before this op)
  genesis: Genesis
  trades: Id[] // trades created while applying this op
  priced: Priced[] // and what each was priced at (engine/history.ts)
  dirty: Set<KeyText> // offers that gained capacity: resting bids get another look
  effects: Effects | null
}

/** A market-rule refusal. Thrown inside the engine, caught by apply, never escapes it: no stack to capture. */
export class Reject extends Error {
  constructor(
    readonly reason: RejectReason,
    message: string
  ) {
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    super(message)
    Error.stackTraceLimit = limit
    this.name = 'Reject'
  }
}

export function reject(reason: RejectReason, message: string): never {
  throw new Reject(reason, message)
}
