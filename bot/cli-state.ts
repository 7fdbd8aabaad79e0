/**
 * `scit bot state CONTRACT`: the latest snapshot the bot verified of each
 * replica's declared state (bot/state-copies.ts): which state core, which
 * snapshot, how old, how large. With the bot free it first asks the nodes
 * for what they wrote since; with the bot busy elsewhere (scit bot run), it
 * prints what that process recorded.
 */
import { output } from '../lib/command'
import { formatSize } from '../lib/resources'
import { workloadId } from '../lib/trade-workload'
import type { Bot } from './bot'
import type { DeploymentRecord, TradeRecord } from './records'
import { withBotIfFree, known, RunFlags } from './cli-open'
import safetyCatch from 'safety-catch'

const TIMEOUT = 3000

export interface StateRow {
  trade: string
  node: string
  workload: string
  lease: string
  core: string | null
  seq: number | null
  length: number | null
  files: number | null
  size: number | null
  /** ms since the node signed the snapshot. */
  age: number | null
  refused: string | null
}

export async function cmdState(ref: string, flags: RunFlags): Promise<void> {
  known(flags, ref)
  await withBotIfFree(flags, async (bot, state) => {
    const d = state.find(ref)
    const rows = await stateRows(bot, d)
    output(flags, { contract: d.contract, id: d.id, replicas: rows }, () => human(d, rows))
  })
}

/** One row per lease of a workload that declares state; refreshed from its node when `bot` is open. */
export async function stateRows(bot: Bot | null, d: DeploymentRecord): Promise<StateRow[]> {
  const m = bot?.manifestOf(d)
  const rows: StateRow[] = []
  for (const t of d.trades) {
    if (m !== undefined && m.workloads.find((w) => w.name === t.workload)?.state == null) continue
    let refused: string | null = null
    if (bot !== null && t.phase === 'settled') {
      const ch = await bot.reach(t.node, TIMEOUT)
      if (ch !== null) await bot.monitor.watch(t.node).refresh(ch, TIMEOUT).catch(safetyCatch)
      const named = bot.monitor.watch(t.node).state(workloadId(t))?.body.stateCore ?? null
      await bot.monitor.stateCopies.sync(d, t, named, TIMEOUT).catch(() => null)
      refused = bot.monitor.stateCopies.refused(t.id)
    }
    if (m === undefined && t.snapshot === undefined) continue
    rows.push(row(t, refused))
  }
  return rows
}

function row(t: TradeRecord, refused: string | null): StateRow {
  const s = t.snapshot ?? null
  return {
    trade: t.id,
    node: t.node,
    workload: t.workload,
    lease: t.phase,
    core: s?.core ?? null,
    seq: s?.seq ?? null,
    length: s?.length ?? null,
    files: s?.files ?? null,
    size: s?.size ?? null,
    age: s === null ? null : Math.max(0, Date.now() - s.time),
    refused
  }
}

function human(d: DeploymentRecord, rows: StateRow[]): string {
  if (rows.length === 0) return `${d.id}: no workload of it declares state`
  const lines = [`${d.id} (${d.contract ?? '?'})`]
  for (const r of rows) {
    const snap =
      r.seq === null
        ? 'no verified snapshot yet'
        : `snapshot ${r.seq} · ${r.files ?? 0} files, ${formatSize(r.size ?? 0)} · ${((r.age ?? 0) / 1000).toFixed(1)}s old · core ${(r.core ?? '').slice(0, 8)}…, ${r.length ?? 0} blocks`
    lines.push(
      `  ${r.workload} ${r.trade} on ${r.node.slice(0, 8)} (${r.lease}): ${snap}${r.refused !== null ? ` · REFUSED: ${r.refused}` : ''}`
    )
  }
  return lines.join('\n')
}
