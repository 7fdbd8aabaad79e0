/**
 * Which bot command makes sense in which phase of a deployment. Checked
 * before a command buys or appends anything: scaling a stopped contract
 * would lock escrow for replicas nothing runs on.
 */
import { ScitError } from '../lib/errors'
import type { BidRecord, DeploymentRecord, DeploymentPhase, TradeRecord } from './records'

export type Command = 'scale' | 'update' | 'stop' | 'resume' | 'approve' | 'grant'

/** The phases each command may run in. */
const ALLOWED: Record<Command, ReadonlySet<DeploymentPhase>> = {
  scale: new Set(['running']),
  update: new Set(['running']),
  // approvals and deploying hold settled leases, trading may hold matched trades and open bids: stop ends them all
  stop: new Set(['trading', 'header', 'approvals', 'deploying', 'running']),
  resume: new Set(['trading', 'header', 'approvals', 'deploying', 'running']),
  approve: new Set(['header', 'approvals', 'deploying', 'running']),
  // access is the contract core's: it can change once the core has a header
  grant: new Set(['header', 'approvals', 'deploying', 'running'])
}

/** Nothing of it runs or will run again: stopped, failed before it ran, or its jobs all ended. */
export function isOver(d: DeploymentRecord): boolean {
  return d.phase === 'stopped' || d.phase === 'failed' || d.phase === 'finished'
}

/** Matched and to be settled: not one whose node the bot found unreachable (trader.ts reached), which it closes. */
export function toSettle(t: TradeRecord): boolean {
  return t.phase === 'matched' && t.unreached === undefined
}

/**
 * A bid not done with: to place, placed, or filled with a trade still to settle (or none recorded yet). A filled bid
 * whose trades were all settled, closed or released is done (the soak, seed 2701 on ca3f97c: an archive shard's
 * replacement, its bot killed and cut off past the settlement window, was released unsettled; its bid, counted as in
 * flight for good, kept the failed lease from being healed again, and the archive stayed short to the end).
 */
export function inFlight(d: DeploymentRecord, rec: BidRecord): boolean {
  return (
    rec.phase === 'intent' ||
    rec.phase === 'submitted' ||
    (rec.phase === 'filled' && unfinished(d, rec))
  )
}

/**
 * A filled bid whose trades are not all adopted (the bot stopped between the fill and its records) or not all checked
 * and settled: followed again (trader.ts: adopt and reached are idempotent), not left to a settle that skips the check.
 */
function unfinished(d: DeploymentRecord, rec: BidRecord): boolean {
  const mine = d.trades.filter((t) => t.id.startsWith(`${rec.id ?? ''}.`)) // book.ts: trade ids are <bid>.<replica>
  return mine.length === 0 || mine.some(toSettle)
}

/** Throw BAD_STATE, with what to do instead, unless `cmd` makes sense for `d` now. */
export function requirePhase(d: DeploymentRecord, cmd: Command): void {
  if (ALLOWED[cmd].has(d.phase)) return
  throw new ScitError('BAD_STATE', refusal(d, cmd))
}

function refusal(d: DeploymentRecord, cmd: Command): string {
  const name = `contract ${d.id}`
  if (d.phase === 'stopped') {
    if (cmd === 'stop') return `${name} is already stopped`
    return `${name} is stopped: nothing runs to ${cmd === 'approve' ? 'sign' : cmd}; deploy the template again (scit bot deploy ${d.template})`
  }
  if (d.phase === 'finished')
    return `${name} is finished: its jobs ended and their leases are closed; nothing to ${cmd === 'approve' ? 'sign' : cmd} (scit bot result ${d.id} fetches the output)`
  if (d.phase === 'failed') {
    const why = d.error !== null ? ` (${d.error})` : ''
    return `${name} failed before anything ran${why}: nothing to ${cmd === 'approve' ? 'sign' : cmd}; deploy the template again (scit bot deploy ${d.template})`
  }
  if (d.phase === 'approvals')
    return `${name} waits for its stakeholders' signatures (scit bot approvals ${d.id}): ${cmd} it once it runs`
  if (cmd === 'approve')
    return `${name} is still buying capacity (phase ${d.phase}): its manifest is not on the contract core yet`
  return `${name} is not running yet (phase ${d.phase}): scit bot run finishes deploying it; ${cmd} it then`
}
