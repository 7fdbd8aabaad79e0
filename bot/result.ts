/**
 * `scit bot result CONTRACT [--out DIR]`: the output a job declared, fetched
 * from the core its node keeps it in (node/results.ts), during the lease and
 * for the `retain` after it. Nothing is taken on trust: hypercore checks the
 * blocks against the core's signed tree, the snapshot must be signed by the
 * replica's node for this contract and replica, the bytes must hash to the
 * snapshot's file hash, and that hash must be the output digest the node
 * signed in its status core when the job exited. What fails any check is
 * refused (VERIFICATION) and not written.
 */
import fs from 'fs'
import path from 'path'
import { ScitError } from '../lib/errors'
import { decodeKey, encodeKey, shortKey } from '../lib/keys'
import { scanState, readFile } from '../lib/state-core'
import { waitForUpdate } from '../lib/timeout'
import { workloadId } from '../lib/trade-workload'
import { kindEntry } from '../lib/contract'
import type { Bot } from './bot'
import type { DeploymentRecord, TradeRecord, JobRecord } from './records'

export interface Fetched {
  trade: string
  node: string
  workload: string
  /** The output's path in the job's work dir, and where it was written here. */
  path: string
  file: string
  size: number
  /** BLAKE2b-256 (hex): the bytes', the snapshot's and the node's signed exit digest, all three equal. */
  hash: string
  /** When the node signed the exit. */
  signed: number
}

/** What `t`'s node signed about its job's end: the bot's record, else its status core now. */
async function ended(bot: Bot, t: TradeRecord, timeout: number): Promise<JobRecord> {
  if (t.job != null) return t.job
  const ch = await bot.reach(t.node, timeout)
  if (ch === null)
    throw new ScitError(
      'TIMEOUT',
      `node ${shortKey(t.node)} (trade ${t.id}) could not be reached in ${timeout} ms`
    )
  const watch = bot.monitor.watch(t.node)
  await watch.refresh(ch, timeout)
  const rec = watch.state(workloadId(t))
  if (rec === null || (rec.body.state !== 'exited' && rec.body.state !== 'failed'))
    throw new ScitError(
      'BAD_STATE',
      `the job of trade ${t.id} has not ended yet (its node signed: ${rec?.body.state ?? 'nothing'}${rec ? `, ${rec.body.reason}` : ''}); scit bot deploy --wait running waits for it`
    )
  return {
    state: rec.body.state,
    exitCode: rec.body.exitCode,
    reason: rec.body.reason,
    output: rec.body.output?.toString('hex') ?? null,
    stdout: rec.body.stdout?.toString('hex') ?? null,
    core: rec.body.stateCore === null ? null : encodeKey(rec.body.stateCore),
    signed: rec.timestamp
  }
}

/** Fetch, verify and write the output of job replica `t` to `dest` (a file path). */
export async function fetchResult(
  bot: Bot,
  d: DeploymentRecord,
  t: TradeRecord,
  output: string,
  dest: string,
  timeout: number
): Promise<Fetched> {
  const job = await ended(bot, t, timeout)
  if (job.output === null || job.core === null)
    throw new ScitError(
      'NOT_FOUND',
      `node ${shortKey(t.node)} signed that the job of trade ${t.id} ${job.state === 'exited' ? 'exited' : `failed (${job.reason})`} without ${output}: there is nothing to fetch (scit bot logs ${d.id} shows what it printed)`
    )
  const node = decodeKey(t.node, 'node key')
  const core = bot.store.get({ key: decodeKey(job.core, 'result core') })
  await core.ready()
  try {
    // the node holds it, during the lease and for the template's `retain` after
    await bot.reach(t.node, timeout)
    await waitForUpdate(core, timeout)
    const scan = await scanState(
      core,
      0,
      { node, contract: decodeKey(d.contract ?? '', 'contract'), replica: workloadId(t) },
      { wait: true, timeout }
    )
    const last = scan.snapshots[scan.snapshots.length - 1]
    if (last === undefined)
      throw new ScitError(
        'NOT_FOUND',
        `no peer served the output of trade ${t.id} within ${timeout} ms: node ${shortKey(t.node)} keeps it for the template's retain after the job ended; is it online?`
      )
    const f = last.snapshot.files.find((x) => x.path === output)
    if (f === undefined)
      throw new ScitError(
        'VERIFICATION',
        `the output node ${shortKey(t.node)} kept for trade ${t.id} holds no ${output}: refused`
      )
    if (f.hash.toString('hex') !== job.output)
      throw new ScitError(
        'VERIFICATION',
        `node ${shortKey(t.node)} kept ${output} of trade ${t.id} with hash ${f.hash.toString('hex')}, but signed ${job.output} when the job exited: refused`
      )
    fs.mkdirSync(path.dirname(dest), { recursive: true })
    const tmp = `${dest}.${process.pid}.part`
    await readFile(core, f, tmp, { wait: true, timeout })
    fs.renameSync(tmp, dest)
    return {
      trade: t.id,
      node: t.node,
      workload: t.workload,
      path: output,
      file: dest,
      size: f.size,
      hash: job.output,
      signed: job.signed
    }
  } finally {
    await core.close()
  }
}

/** The job replicas of `d` with a declared output, each with the output's path. */
export function jobOutputs(
  bot: Bot,
  d: DeploymentRecord
): Array<{ t: TradeRecord; output: string }> {
  const m = bot.manifestOf(d)
  const out: Array<{ t: TradeRecord; output: string }> = []
  for (const t of d.trades) {
    const w = m.workloads.find((x) => x.name === t.workload)
    if (w === undefined || !kindEntry(w.kind).finishes || w.output === null) continue
    if (t.phase === 'matched' || (t.phase !== 'settled' && t.job == null)) continue
    out.push({ t, output: w.output })
  }
  if (out.length === 0)
    throw new ScitError(
      'NOT_FOUND',
      `${d.id} has no job replica with an output (a template's job declares one with output: FILE)`
    )
  return out
}
