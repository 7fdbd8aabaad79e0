/**
 * The node's pay (docs/ARCHITECTURE.md "Settlement"): it periodically claims what running leases
 * earned. The engine pays from lease start, so claiming often costs ops, never
 * money; `minimum` bounds the ops of many cheap leases. Full-term and closed
 * leases are paid by the engine itself: there is no final claim.
 */
import { EventEmitter } from 'events'
import { costFor } from '../lib/resources'
import { logger } from '../lib/log'
import type { Client } from '../market/client'
import type { Outcome, Trade, KeyText } from '../market/types'
import safetyCatch from 'safety-catch'

const log = logger('node/payout')

export const DEFAULT_CLAIM_INTERVAL = 10 * 60_000

export interface PayoutOptions {
  client: Pick<Client, 'trades' | 'submitAndWait'>
  node: KeyText
  interval?: number
  /** Smallest payout worth an op, in the market's smallest unit. */
  minimum?: number
}

/** What `trade` would pay if claimed at `now` (the engine's rule, money.ts `earned`). */
export function claimable(trade: Trade, now: number): number {
  if (trade.state !== 'settled' || trade.start === null) return 0
  const elapsed = Math.max(0, Math.min(now, trade.end ?? now) - trade.start)
  return Math.max(0, Math.min(trade.escrow, costFor(trade.price, elapsed) - trade.paid))
}

export class Payouts extends EventEmitter {
  readonly interval: number
  private readonly minimum: number
  private timer: NodeJS.Timeout | null = null
  private running: Promise<Outcome[]> | null = null
  private closed = false

  constructor(private readonly opts: PayoutOptions) {
    super()
    this.interval = opts.interval ?? DEFAULT_CLAIM_INTERVAL
    this.minimum = Math.max(1, opts.minimum ?? 1)
  }

  start(): void {
    if (this.timer !== null || this.closed || this.interval <= 0) return
    this.timer = setInterval(() => {
      this.claim().catch((err) => log.warn('claim failed', { err: (err as Error).message }))
    }, this.interval)
    this.timer.unref()
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    await this.running?.catch(safetyCatch)
  }

  /** One batch at a time. Resolves with the outcomes (empty: nothing due). */
  claim(): Promise<Outcome[]> {
    if (this.running !== null) return this.running
    this.running = this.claimOnce().finally(() => {
      this.running = null
    })
    return this.running
  }

  private async claimOnce(): Promise<Outcome[]> {
    if (this.closed) return []
    const now = Date.now()
    // paid in full by the engine's due op: claiming would only race it
    const due = (await this.opts.client.trades({ node: this.opts.node, state: 'settled' })).filter(
      (t) => (t.end === null || now < t.end) && claimable(t, now) >= this.minimum
    )
    if (due.length === 0) return []
    const outcomes = await this.opts.client.submitAndWait(
      due.map((t) => ({ type: 'claim', body: { trade: t.id, reason: 'payout' } })),
      { final: false }
    )
    for (const o of outcomes)
      if (!o.accepted) log.warn('claim refused', { reason: o.reason, message: o.message })
    log.info('claimed', { leases: outcomes.filter((o) => o.accepted).length })
    this.emit('claimed', outcomes)
    return outcomes
  }
}
