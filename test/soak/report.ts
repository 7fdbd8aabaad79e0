/** The soak's result: what it did, what it checked, what it found; and the summary it prints. */
import type { Violation } from './checker'
import type { StoreDamage } from './injector'

export interface Result {
  seed: number
  minutes: number
  dir: string
  broken: string | null
  violations: Violation[]
  /** ms per phase: up, warmup, faults, quiet, down. */
  phases: Record<string, number>
  converged?: number | null
  verify?: { ok: boolean; ops: number } | null
  exits?: number
  leftovers?: string[]
  statusRecords?: number
  fired?: Record<string, number>
  /** Faults not run: their target was still stopped or restarting from an earlier one. */
  skipped?: Record<string, number>
  landed?: Record<string, number>
  damages?: StoreDamage[]
  checks?: Record<string, number>
  slowestRecovery?: number
  crm?: Array<{
    bot: string
    writes: number
    acked: number
    reads: number
    lost: number
    /** Of those, lost with a damaged store that held their only copy (soak/crm.ts LastCopy). */
    destroyed?: number
    worstLoss: number
  }>
  vacuous?: string[]
  total?: number
}

const s = (ms: number | null | undefined): string =>
  ms == null ? '-' : `${(ms / 1000).toFixed(1)} s`

export function summary(r: Result): string {
  const lines = [
    '',
    `── soak SCIT_SOAK_SEED=${r.seed}, ${r.minutes} min of faults${r.broken !== null ? `, engine broken: ${r.broken}` : ''} (${r.dir})`,
    `phases: ${Object.entries(r.phases)
      .map(([k, v]) => `${k} ${s(v)}`)
      .join(', ')}; total ${s(r.total)}`,
    `faults fired: ${Object.entries(r.fired ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; ${Object.values(r.fired ?? {}).reduce((a, b) => a + b, 0)} in all`,
    `faults skipped (target still stopped or restarting): ${
      Object.entries(r.skipped ?? {})
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }`,
    `kills inside critical steps: ${Object.entries(r.landed ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `damaged stores: ${(r.damages ?? []).map((d) => `${d.node} ${d.outcome}`).join(', ') || 'none'}`,
    `checks: ${Object.entries(r.checks ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; status records audited ${r.statusRecords ?? 0}`,
    `slowest recovery ${s(r.slowestRecovery)}; converged ${s(r.converged)} after the faults; replay ${r.verify == null ? '-' : `${r.verify.ok ? 'ok' : 'DIVERGED'} (${r.verify.ops} ops)`}`,
    `CRM: ${(r.crm ?? []).map((c) => `${c.bot} ${c.acked}/${c.writes} writes acknowledged, ${c.reads} reads, ${c.lost} lost (${c.destroyed ?? 0} of them with a damaged store that held their only copy; worst ${s(c.worstLoss)} before a node went down or its bot last could copy from it)`).join('; ')}`,
    `left behind: ${(r.leftovers ?? []).length}`
  ]
  if ((r.vacuous ?? []).length > 0) lines.push(`VACUOUS: ${(r.vacuous ?? []).join('; ')}`)
  lines.push(`violations: ${r.violations.length}`)
  for (const v of r.violations) lines.push(`  ${v.invariant}: ${v.message}`)
  lines.push(
    r.violations.length === 0 && (r.vacuous ?? []).length === 0
      ? 'soak passed'
      : `soak FAILED (replay: npm run soak -- --seed ${r.seed} --minutes ${r.minutes})`,
    ''
  )
  return lines.join('\n')
}
