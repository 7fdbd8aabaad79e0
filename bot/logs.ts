/**
 * A contract's workload logs, read from the log cores of the nodes that run
 * it (node/status.ts). Each node tells its log core key over its liveness
 * protocol; the core replicates over the same market connection, and every
 * record is checked against the node's identity (readCore), so what is shown
 * is what the node signed, whichever peer served the bytes.
 */
import type Hypercore from 'hypercore'
import { decodeKey } from '../lib/keys'
import { workloadLogs } from '../node/status'
import { workloadId } from '../node/contracts'
import type { Bot } from './bot'
import type { DeploymentRecord, TradeRecord } from './state'

export interface LogLine { node: string; trade: string; workload: string; stream: string; timestamp: number; text: string }

/** The last `tail` log blocks of every node leasing `d`; calls `onLine` per chunk, then keeps calling as they grow (follow). */
export async function readLogs (bot: Bot, d: DeploymentRecord, onLine: (l: LogLine) => void, opts: { tail?: number, follow?: boolean, signal?: AbortSignal } = {}): Promise<void> {
  const cores: Array<{ t: TradeRecord, core: Hypercore }> = []
  for (const t of d.trades.filter(x => x.phase === 'settled')) {
    const ch = bot.nodeChannel(t.node)
    if (ch === null) continue
    const s = await ch.status({ timeout: 5000 }).catch(() => null)
    if (s === null) continue
    const core = bot.store.get({ key: s.logCore })
    await core.ready()
    await core.update({ wait: true }).catch(() => false)
    cores.push({ t, core })
  }
  const next = new Map<Hypercore, number>()
  const drain = async (t: TradeRecord, core: Hypercore): Promise<void> => {
    const start = next.get(core) ?? Math.max(0, core.length - (opts.tail ?? 200))
    const end = core.length
    next.set(core, end)
    const r = await workloadLogs(core, decodeKey(t.node), workloadId(t), { start, end, timeout: 5000 })
    for (const rec of r.records) {
      onLine({ node: t.node, trade: t.id, workload: t.workload, stream: rec.body.stream, timestamp: rec.timestamp, text: rec.body.data.toString() })
    }
  }
  for (const { t, core } of cores) await drain(t, core)
  if (!opts.follow) {
    for (const { core } of cores) await core.close()
    return
  }
  await new Promise<void>(resolve => {
    const stops: Array<() => void> = []
    for (const { t, core } of cores) {
      let q = Promise.resolve()
      const on = (): void => { q = q.then(() => drain(t, core)).catch(() => {}) }
      core.on('append', on)
      core.update({ wait: true }).catch(() => false)
      stops.push(() => core.off('append', on))
    }
    opts.signal?.addEventListener('abort', () => {
      for (const s of stops) s()
      resolve()
    }, { once: true })
  })
  for (const { core } of cores) await core.close()
}
