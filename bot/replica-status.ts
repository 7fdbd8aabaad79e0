/**
 * What the nodes say about a deployment's replicas: for each live lease, the
 * state its node signed in its status core (verified by bot/watch.ts), with
 * whether the node was reached and how long its ping took. Read-only: what
 * `scit bot status` shows and what waitRunning (bot/deployment.ts) waits on.
 */
import { workloadId } from '../lib/trade-workload'
import { encodeKey } from '../lib/keys'
import type { Bot } from './bot'
import type { DeploymentRecord, TradeRecord } from './records'
import { toSettle } from './phase'

export interface ReplicaStatus {
  trade: string
  workload: string
  node: string
  lease: string
  /** The replica's state as the node signed it in its status core; 'unknown' when it could not be read, 'pending' before the node signed any. */
  state: string
  /** The node's signed reason (a refusal's too), or why the state is unknown. */
  reason: string
  /** When the node signed that state (its record's timestamp). */
  since: number | null
  restarts: number
  /** Declared ports and the DHT key this replica serves each under (z-base-32). */
  ports: Array<{ port: number; key: string }>
  /** A job's exit code, and the BLAKE2b-256 (hex) of its declared output file and of its stdout, as the node signed them; null otherwise. */
  exitCode: number | null
  output: string | null
  stdout: string | null
  /** The core its node keeps a job's output in (z-base-32): what `scit bot result` fetches. */
  resultCore: string | null
  /** Was the node reached at all (within the timeout)? */
  reachable: boolean
  /** Liveness only: the round trip of an (unsigned) ping in ms, null when it went unanswered. */
  ping: number | null
  /** Records of the node's status core that failed verification (wrong signer, replayed, malformed): never shown as state. */
  unverified: number
}

/**
 * What each node signed about the replicas it holds for `d`: its status core,
 * replicated and verified against its identity (bot/watch.ts). Waits up to
 * `timeout` ms for a connection to each node; a node not reached says so.
 */
export async function replicaStatus(
  bot: Bot,
  d: DeploymentRecord,
  timeout = 5000
): Promise<ReplicaStatus[]> {
  const out: ReplicaStatus[] = []
  for (const t of d.trades) {
    const j = t.job
    if (j == null || t.phase === 'settled') continue
    // its job ended and the bot closed its lease: what the node signed then is its last word
    out.push({
      ...blank(t),
      state: j.state,
      reason: j.reason,
      since: j.signed,
      exitCode: j.exitCode,
      output: j.output,
      stdout: j.stdout,
      resultCore: j.core,
      reachable: true
    })
  }
  await Promise.all(
    d.trades
      .filter((t) => t.phase === 'settled' || (toSettle(t) && t.job == null))
      .map(async (t) => {
        const row = blank(t)
        out.push(row)
        const ch = await bot.reach(t.node, timeout)
        if (ch === null) {
          row.reason = `node ${t.node.slice(0, 8)} could not be reached in ${timeout} ms`
          return
        }
        row.reachable = true
        row.ping = await ch.ping({ timeout }).catch(() => null)
        const watch = bot.monitor.watch(t.node)
        try {
          await watch.refresh(ch, timeout)
        } catch (err) {
          row.reason = `its status core could not be read: ${(err as Error).message}`
        }
        row.unverified = watch.refused.length
        const rec = watch.state(workloadId(t))
        if (rec !== null) {
          row.state = rec.body.state
          row.reason = rec.body.reason
          row.since = rec.timestamp
          row.restarts = rec.body.restarts
          row.ports = rec.body.ports.map((p) => ({ port: p.port, key: encodeKey(p.key) }))
          row.exitCode = rec.body.exitCode
          row.output = rec.body.output?.toString('hex') ?? null
          row.stdout = rec.body.stdout?.toString('hex') ?? null
          row.resultCore =
            rec.body.output !== null && rec.body.stateCore !== null
              ? encodeKey(rec.body.stateCore)
              : null
        } else if (row.reason === '') {
          row.state = 'pending'
          row.reason = 'the node has signed no state for it yet'
        }
      })
  )
  return out.sort((a, b) => a.trade.localeCompare(b.trade))
}

function blank(t: TradeRecord): ReplicaStatus {
  return {
    trade: t.id,
    workload: t.workload,
    node: t.node,
    lease: t.phase,
    state: 'unknown',
    reason: '',
    since: null,
    restarts: 0,
    ports: [],
    exitCode: null,
    output: null,
    stdout: null,
    resultCore: null,
    reachable: false,
    ping: null,
    unverified: 0
  }
}
