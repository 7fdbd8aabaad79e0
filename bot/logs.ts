/**
 * A contract's workload logs from its nodes' log cores, every record checked against
 * the node's identity, whichever peer served it. An unreached node is reported, never silently left out.
 */
import type Hypercore from 'hypercore'
import { decodeKey } from '../lib/keys'
import { workloadLogs } from '../lib/status'
import { workloadId } from '../lib/trade-workload'
import type { Bot } from './bot'
import type { DeploymentRecord, TradeRecord } from './records'
import { waitForUpdate } from '../lib/timeout'
import safetyCatch from 'safety-catch'

export interface LogLine {
  node: string
  trade: string
  workload: string
  stream: string
  timestamp: number
  text: string
}
export interface Unreached {
  node: string
  trade: string
  reason: string
}

export interface LogOptions {
  tail?: number
  follow?: boolean
  signal?: AbortSignal
  /** ms; default 10 s. */
  connectTimeout?: number
  /** Called as soon as a node's logs are known to be unreadable. */
  onUnreachable?: (u: Unreached) => void
}

/** The last `tail` blocks of every node leasing `d`, then follows. Resolves with the unreached nodes. */
export async function readLogs(
  bot: Bot,
  d: DeploymentRecord,
  onLine: (l: LogLine) => void,
  opts: LogOptions = {}
): Promise<{ unreachable: Unreached[] }> {
  const timeout = opts.connectTimeout ?? 10_000
  const unreachable: Unreached[] = []
  const miss = (t: TradeRecord, reason: string): void => {
    const u = { node: t.node, trade: t.id, reason }
    unreachable.push(u)
    opts.onUnreachable?.(u)
  }
  const found = await Promise.all(
    d.trades
      .filter((x) => x.phase === 'settled' || x.job != null) // a job's log outlives its lease
      .map(async (t) => {
        const ch = await bot.reach(t.node, timeout)
        if (ch === null) return miss(t, `not reachable in ${timeout} ms`)
        let s
        try {
          s = await ch.status({ timeout })
        } catch (err) {
          return miss(t, `no status answer: ${(err as Error).message}`)
        }
        const core = bot.store.get({ key: s.logCore })
        await core.ready()
        await waitForUpdate(core, timeout)
        return { t, core }
      })
  )
  const cores = found.filter((x): x is { t: TradeRecord; core: Hypercore } => x !== undefined)
  const next = new Map<Hypercore, number>()
  const drain = async (t: TradeRecord, core: Hypercore): Promise<void> => {
    const start = next.get(core) ?? Math.max(0, core.length - (opts.tail ?? 200))
    const end = core.length
    next.set(core, end)
    const r = await workloadLogs(core, decodeKey(t.node), workloadId(t), {
      start,
      end,
      timeout: 5000
    })
    for (const rec of r.records) {
      onLine({
        node: t.node,
        trade: t.id,
        workload: t.workload,
        stream: rec.body.stream,
        timestamp: rec.timestamp,
        text: rec.body.data.toString()
      })
    }
  }
  for (const { t, core } of cores) await drain(t, core)
  // aborted while the tail was read: nothing to follow
  if (!opts.follow || opts.signal?.aborted === true) {
    for (const { core } of cores) await core.close()
    return { unreachable }
  }
  await new Promise<void>((resolve) => {
    const stops: Array<() => void> = []
    for (const { t, core } of cores) {
      let q = Promise.resolve()
      const on = (): void => {
        q = q.then(() => drain(t, core)).catch(safetyCatch)
      }
      core.on('append', on)
      core.update({ wait: true }).catch(() => false)
      stops.push(() => core.off('append', on))
    }
    opts.signal?.addEventListener(
      'abort',
      () => {
        for (const s of stops) s()
        resolve()
      },
      { once: true }
    )
  })
  for (const { core } of cores) await core.close()
  return { unreachable }
}
