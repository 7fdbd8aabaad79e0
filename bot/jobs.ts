/**
 * Jobs end: once a job replica's node signed its exit (or that it failed for good) the bot closes
 * its lease, and records what the node signed, so `scit bot status` and `scit bot result` know it
 * after the lease; a contract whose jobs all ended is `finished`.
 */
import { kindEntry, type Manifest, type RestartPolicy } from '../lib/contract'
import { encodeKey, shortKey } from '../lib/keys'
import type { Verified } from '../lib/status'
import type { StatusRecord } from '../lib/node-messages'
import type { BotHost } from './host'
import type { DeploymentRecord, TradeRecord, JobRecord } from './records'

/** A failure the node will not retry; a scheduled restart is signed failed too, "restart in …", and waited out. */
export function failedForGood(
  r: { state: string; exitCode: number | null; reason: string },
  restart: RestartPolicy | undefined
): boolean {
  if (r.state !== 'failed') return false
  return restart === 'never' || (r.exitCode === null && !/restart in/.test(r.reason))
}

/** Is this replica's job over, as its node signed it? */
export function jobOver(m: Manifest, t: TradeRecord, rec: StatusRecord): boolean {
  const w = m.workloads.find((x) => x.name === t.workload)
  if (w === undefined || !kindEntry(w.kind).finishes) return false
  return rec.state === 'exited' || failedForGood(rec, w.restart)
}

export class Jobs {
  /** Trades being ended now: one close per trade. */
  private readonly ending = new Map<string, Promise<void>>()

  constructor(
    private readonly bot: Pick<BotHost, 'state' | 'trader' | 'progress' | 'manifestOf'>
  ) {}

  /**
   * End `t`'s lease if its node signed (`rec`) that its job is over, or if its end is recorded and the close not yet
   * seen through (the bot stopped in between); idempotent.
   */
  async check(
    d: DeploymentRecord,
    t: TradeRecord,
    rec: Verified<StatusRecord> | null
  ): Promise<void> {
    if (t.job == null) {
      if (rec === null || !jobOver(this.bot.manifestOf(d), t, rec.body)) return
    } else if (t.phase !== 'settled' && t.phase !== 'matched') return
    let p = this.ending.get(t.id)
    if (p === undefined) {
      p = this.end(d, t, rec).finally(() => this.ending.delete(t.id))
      this.ending.set(t.id, p)
    }
    await p
  }

  private async end(
    d: DeploymentRecord,
    t: TradeRecord,
    rec: Verified<StatusRecord> | null
  ): Promise<void> {
    // Kept before the close: the soak (seed 2700) killed a bot after its close of a finished job's lease was sent and
    // before the end was recorded; the close became final later, the lease was then only "closed in the market", the
    // job's end was never known and its contract counted a replica short for good.
    if (t.job == null && rec !== null) {
      t.job = jobRecord(rec)
      this.bot.state.save()
    }
    const job = t.job
    if (job == null) return
    const ok = job.state === 'exited'
    const why = ok
      ? `job exited ${job.exitCode ?? ''} on node ${shortKey(t.node)}`
      : `job failed on node ${shortKey(t.node)}: ${job.reason}`
    if (t.phase === 'settled' || t.phase === 'matched')
      await this.bot.trader.end(d, t.id, 'close', why)
    this.bot.progress(
      ok ? 'job-exited' : 'job-failed',
      `${d.id}: ${t.workload} (trade ${t.id}) ${ok ? `exited ${job.exitCode ?? ''}` : `failed: ${job.reason}`}${job.output !== null ? `, output ${job.output}` : ''}; its lease is closed${job.core !== null ? ` (scit bot result ${d.id})` : ''}`,
      d.id
    )
    this.finishIfDone(d)
  }

  /**
   * Every workload a job, as many of its replicas ended as it has, and no lease left without an end: nothing runs any
   * more. (A replica being healed has a failed lease and no end yet: not finished.)
   */
  finishIfDone(d: DeploymentRecord): void {
    // checked first: a service's settled leases end it here, each monitor tick, before its manifest is decoded
    if (d.phase !== 'running') return
    if (d.trades.some((t) => (t.phase === 'settled' || t.phase === 'matched') && t.job == null))
      return
    const m = this.bot.manifestOf(d)
    const ended = (w: string): number =>
      d.trades.filter((t) => t.workload === w && t.job != null).length
    if (!m.workloads.every((w) => kindEntry(w.kind).finishes && ended(w.name) >= w.replicas)) return
    d.phase = 'finished'
    this.bot.state.save()
    this.bot.progress('finished', `${d.id}: every job ended, every lease is closed`, d.id)
  }
}

function jobRecord(rec: Verified<StatusRecord>): JobRecord {
  const b = rec.body
  return {
    state: b.state === 'exited' ? 'exited' : 'failed',
    exitCode: b.exitCode,
    reason: b.reason,
    output: b.output?.toString('hex') ?? null,
    stdout: b.stdout?.toString('hex') ?? null,
    core: b.stateCore === null ? null : encodeKey(b.stateCore),
    signed: rec.timestamp
  }
}
