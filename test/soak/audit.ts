/**
 * What the soak checks once the faults are over: every live peer on the indexers' signed view within 60 s; the
 * market replayed from genesis by `scit market verify`; and, once every process has stopped, nothing left behind
 * (no process, mount or sandbox of the run) and every trade a node signed that it ran settled to that node in
 * the final signed view (a node acts only on what the indexers signed).
 */
import fs from 'fs'
import path from 'path'
import Corestore from 'corestore'
import { readCore } from '../../lib/status'
import type { StatusRecord } from '../../lib/node-messages'
import { decodeKey } from '../../lib/keys'
import type { Cluster } from './cluster'
import type { Checker, Report, FinalTrades } from './checker'
import { runToEnd } from './procs'
import { sleep } from './injector'

export const CONVERGE = 60_000

/** ms until every peer process reads the indexers' view at least as far as they had signed when asked; null: never. */
export async function converge(
  cluster: Cluster,
  checker: Checker,
  report: Report
): Promise<number | null> {
  const t0 = Date.now()
  const peers = [...cluster.cast.indexers, ...cluster.cast.nodes, ...cluster.cast.bots]
  const target = Math.max(
    0,
    ...checker
      .probes()
      .filter((p) => cluster.cast.indexers.includes(p.name))
      .map((p) => p.market?.signed ?? 0)
  )
  let behind: string[] = peers
  while (Date.now() - t0 < CONVERGE) {
    await sleep(1000)
    const probes = new Map(checker.probes().map((p) => [p.name, p]))
    behind = peers.filter((name) => {
      const p = probes.get(name)
      const m = p?.market
      return (
        p === undefined ||
        p.pid !== cluster.proc(name).pid ||
        m === undefined ||
        m.view !== checker.viewKey ||
        m.signed < target ||
        Date.now() - p.at > 5000
      )
    })
    if (behind.length === 0) return Date.now() - t0
  }
  report(
    'convergence',
    `not on the indexers' signed view (length ${target}) ${CONVERGE / 1000} s after the faults stopped: ${behind.join(', ')}`
  )
  return null
}

/** `scit market verify`: replay every op from genesis, compare with the signed view. */
export async function verifyReplay(
  cluster: Cluster,
  report: Report
): Promise<{ ok: boolean; ops: number } | null> {
  const p = cluster.command('verify', [
    'market',
    'verify',
    '--data',
    cluster.data('verify'),
    '--json',
    '--timeout',
    '10m'
  ])
  const end = await runToEnd(p, 12 * 60_000)
  try {
    const r = JSON.parse(end.stdout) as { ok: boolean; ops: number; divergence: unknown }
    if (!r.ok)
      report(
        'signed-prefix',
        `scit market verify: the signed view is not what a replay from genesis computes: ${JSON.stringify(r.divergence)}`
      )
    return { ok: r.ok, ops: r.ops }
  } catch {
    report(
      'verify',
      `scit market verify did not answer (${end.code ?? end.signal ?? ''}): ${p.tail.slice(-2).join(' | ')}`
    )
    return null
  }
}

/** Processes and mounts of the run still there once everything was stopped. */
export function leftovers(dir: string): string[] {
  const out: string[] = []
  const mine = ancestors()
  for (const pid of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    if (mine.has(Number(pid))) continue
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')
      if (cmd.includes(dir)) out.push(`process ${pid}: ${cmd.slice(0, 120)}`)
    } catch {}
  }
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n'))
    if (line.includes(dir)) out.push(`mount: ${line.slice(0, 160)}`)
  return out
}

/** This process and those that started it (a wrapper's argv may name the run's dir too). */
function ancestors(): Set<number> {
  const out = new Set<number>()
  let pid = process.pid
  while (pid > 1 && !out.has(pid)) {
    out.add(pid)
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    } catch {
      break
    }
  }
  return out
}

/** Every trade a node signed it started or ran: settled to that node in the final signed view. */
export async function auditStatus(
  cluster: Cluster,
  trades: FinalTrades,
  report: Report
): Promise<number> {
  let records = 0
  for (const node of cluster.cast.nodes) {
    const data = cluster.data(node)
    let snap: { statusCore?: string; key?: string }
    try {
      snap = JSON.parse(fs.readFileSync(path.join(data, 'node-state.json'), 'utf8')) as typeof snap
    } catch {
      continue
    }
    if (snap.statusCore === undefined || snap.key === undefined) continue
    const store = new Corestore(path.join(data, 'corestore'))
    try {
      await store.ready()
    } catch (err) {
      report('status', `${node}'s store does not open after the run: ${(err as Error).message}`)
      continue
    }
    try {
      const core = store.get({ key: decodeKey(snap.statusCore, 'status core') })
      const r = await readCore<StatusRecord>(core, decodeKey(snap.key, 'node key'), 'status', {
        wait: false
      })
      for (const x of r.refused)
        if (x.reason !== 'missing')
          report('status', `${node}'s status core: record ${x.index} does not verify: ${x.reason}`)
      for (const rec of r.records) {
        const trade = rec.body.trade
        if (trade === null || !['starting', 'running', 'exited'].includes(rec.body.state)) continue
        records++
        const t = trades.get(trade) ?? null
        if (t === null || t.node !== snap.key || t.start === null)
          report(
            'signed-view',
            `${node} signed that trade ${trade} was ${rec.body.state}, but the final signed view has it ${t === null ? 'absent' : `${t.state} on ${t.node.slice(0, 8)}`}`
          )
      }
      await core.close()
    } finally {
      await store.close()
    }
  }
  return records
}
