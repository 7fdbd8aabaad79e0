/**
 * `scit bot deploy|status|logs|result|stop|scale|update|grant|revoke`: the commands
 * that act with the bot (bot/cli-open.ts: the one `scit bot run` serves them
 * from, or this process's own). Each prints to its Io (lib/io.ts), so a
 * served command prints what it prints alone.
 */
import fs from 'fs'
import path from 'path'
import { output, whole } from '../lib/command'
import { ScitError } from '../lib/errors'
import { decodeKey, encodeKey } from '../lib/keys'
import { shortId } from '../lib/envelope'
import { ioOf, resolvePath } from '../lib/io'
import { parseDuration } from '../lib/duration'
import type { Bot } from './bot'
import { deploy, dryRun, waitRunning, stop, scale, update } from './deployment'
import { describePlan } from './archive-plan'
import { manifestSummary } from './stakeholders'
import { replicaStatus, ReplicaStatus } from './replica-status'
import { grantAccess, delivered } from './access'
import { readLogs } from './logs'
import { fetchResult, jobOutputs, Fetched } from './result'
import type { DeploymentRecord } from './records'
import type { ParamValue } from '../lib/contract'
import { withBot, withBotIfFree, precheck, known, progressTo, handOver, RunFlags } from './cli-open'
import { loadTemplate, resolveParams } from './template'

export type { RunFlags } from './cli-open'

export function describe(d: DeploymentRecord, replicas: ReplicaStatus[] | null = null): object {
  return {
    id: d.id,
    contract: d.contract,
    template: d.template,
    params: d.set,
    manifestHash: d.manifestHash,
    phase: d.phase,
    error: d.error,
    trades: d.trades.map((t) => ({
      id: t.id,
      workload: t.workload,
      node: t.node,
      price: t.price,
      lease: t.phase,
      replaces: t.replaces,
      reason: t.reason
    })),
    bids: d.bids.map((b) => ({
      id: b.id,
      workload: b.workload,
      attempt: b.attempt,
      phase: b.phase,
      reason: b.reason
    })),
    ...(replicas ? { replicas } : {})
  }
}

function human(d: DeploymentRecord, replicas: ReplicaStatus[] | null): string {
  const lines = [
    `${d.id}  ${d.phase}  contract ${d.contract ?? '-'}${d.error ? `  (last error: ${d.error})` : ''}`
  ]
  for (const t of d.trades) {
    const r = replicas?.find((x) => x.trade === t.id)
    lines.push(
      `  ${t.workload.padEnd(10)} ${shortId(t.id)}… node ${t.node.slice(0, 8)} ${String(t.price).padStart(5)}/h  lease ${t.phase.padEnd(8)} ${r ? replicaLine(r) : ''}`
    )
  }
  const unreached = (replicas ?? []).filter((r) => !r.reachable)
  if (unreached.length)
    lines.push(
      `  could not reach: ${unreached.map((r) => `node ${r.node} (trade ${r.trade})`).join(', ')}`
    )
  return lines.join('\n')
}

/** The state the node signed (and when), then liveness: "running (signed 12:00:01): holds 4MiB · ping 3 ms". */
function replicaLine(r: ReplicaStatus): string {
  if (!r.reachable) return `unreachable: ${r.reason}`
  const signed =
    r.since !== null ? ` (signed ${new Date(r.since).toISOString().slice(11, 19)})` : ''
  const bad = r.unverified ? ` · ${r.unverified} status records failed verification` : ''
  const job =
    r.exitCode !== null
      ? ` · exit ${r.exitCode}${r.output !== null ? `, output ${r.output}` : ''}`
      : ''
  return `${r.state}${signed}: ${r.reason}${job} · ${r.ping === null ? 'no ping answer' : `ping ${r.ping} ms`}${bad}`
}

export async function cmdDeploy(
  template: string,
  flags: RunFlags,
  set: Record<string, ParamValue>
): Promise<void> {
  if (flags.wait !== undefined && flags.wait !== 'running')
    throw new ScitError(
      'INVALID_ARGUMENT',
      `--wait "${flags.wait}": the one state to wait for is "running"`
    )
  const timeout = parseDuration(flags.timeout ?? '5m')
  const io = ioOf(flags)
  const say = progressTo(io)
  // a file where the command was typed (a served command runs elsewhere), else a published name
  const file = resolvePath(io, template)
  const ref = fs.existsSync(file) ? file : template
  // A template file is checked offline first: a refused one opens no bot and buys nothing.
  if (ref === file) resolveParams(loadTemplate(file), set)
  if (flags.dryRun === true) return dryRunOf(ref, flags, set)
  await withBot(flags, async (bot) => {
    // The timeout bounds buying (re-bidding as often as it takes until then), then waiting for the replicas; not the stakeholders.
    const d = await deploy(
      bot,
      { template: ref, set, id: flags.id },
      {
        waitApprovals: flags.approvals !== false,
        deadline: Date.now() + timeout,
        attempts: Infinity,
        progress: say
      }
    )
    // --no-approvals beside scit bot run: it deploys once the stakeholders signed
    handOver(bot, d)
    let replicas: ReplicaStatus[] | null = null
    if (flags.wait === 'running' && d.phase === 'running') {
      bot.monitor.start()
      say('wait', 'until every replica runs')
      replicas = await following(bot, d, flags, () =>
        waitRunning(bot, d, { deadline: Date.now() + timeout, signal: io.signal })
      )
    }
    output(flags, describe(d, replicas), () => human(d, replicas))
  })
}

/** `deploy --dry-run`: the manifest and each archive's plan on today's offers; nothing bought, nothing recorded. */
async function dryRunOf(
  ref: string,
  flags: RunFlags,
  set: Record<string, ParamValue>
): Promise<void> {
  await withBot(flags, async (bot) => {
    const { inst, plans } = await dryRun(bot, { template: ref, set })
    output(flags, { manifestHash: inst.hash.toString('hex'), plans }, () =>
      [
        manifestSummary(inst.manifest),
        ...plans.flatMap(describePlan),
        'dry run: nothing bought (scit bot deploy without --dry-run buys this)'
      ].join('\n')
    )
  })
}

/** Run `fn` with this command printing the progress lines about `d` (a heal while it waits, say). */
async function following<T>(
  bot: Bot,
  d: DeploymentRecord,
  flags: RunFlags,
  fn: () => Promise<T>
): Promise<T> {
  const unfollow = bot.follow(d.id, progressTo(ioOf(flags)))
  try {
    return await fn()
  } finally {
    unfollow()
  }
}

export async function cmdStatus(ref: string | undefined, flags: RunFlags): Promise<void> {
  if (ref) known(flags, ref)
  await withBotIfFree(flags, async (bot, state) => {
    const list = ref ? [state.find(ref)] : state.deployments
    const rows: Array<{ d: DeploymentRecord; r: ReplicaStatus[] | null }> = []
    for (const d of list)
      rows.push({ d, r: bot && d.phase !== 'stopped' ? await replicaStatus(bot, d, 3000) : null })
    output(
      flags,
      rows.map((x) => describe(x.d, x.r)),
      () =>
        rows.length
          ? rows.map((x) => human(x.d, x.r)).join('\n\n')
          : 'no contracts (scit bot deploy TEMPLATE)'
    )
  })
}

export async function cmdStop(ref: string, flags: RunFlags): Promise<void> {
  precheck(flags, ref, 'stop')
  await withBot(flags, async (bot) => {
    const d0 = bot.state.find(ref)
    try {
      const d = await following(bot, d0, flags, () => stop(bot, d0))
      output(flags, describe(d), () => human(d, null))
    } finally {
      handOver(bot, d0) // a stop cut short (an op not decided in time)
    }
  })
}

export async function cmdScale(ref: string, n: string, flags: RunFlags): Promise<void> {
  const replicas = Number(n)
  if (!Number.isSafeInteger(replicas))
    throw new ScitError('INVALID_ARGUMENT', `"${n}" is not a replica count`)
  precheck(flags, ref, 'scale')
  const timeout = parseDuration(flags.timeout ?? '5m')
  await withBot(flags, async (bot) => {
    const d0 = bot.state.find(ref)
    const d = await following(bot, d0, flags, () =>
      scale(bot, d0, flags.workload ?? null, replicas, {
        deadline: Date.now() + timeout,
        attempts: Infinity
      })
    )
    output(flags, describe(d), () => human(d, null))
  })
}

export async function cmdGrant(
  ref: string,
  key: string,
  flags: RunFlags,
  revoke: boolean
): Promise<void> {
  const k = decodeKey(key, 'key to ' + (revoke ? 'revoke' : 'grant'))
  precheck(flags, ref, 'grant')
  await withBot(flags, async (bot) => {
    const d = bot.state.find(ref)
    const ins = await following(bot, d, flags, () =>
      grantAccess(bot, d, k, flags.workload ?? null, revoke)
    )
    const pending = await delivered(bot, d)
    const what = {
      contract: d.contract,
      id: d.id,
      action: ins.action,
      key: encodeKey(k),
      workload: flags.workload ?? null,
      seq: ins.seq,
      pending
    }
    output(
      flags,
      what,
      () =>
        `${ins.action === 'grant' ? 'granted' : 'revoked'}: ${encodeKey(k)} ${ins.action === 'grant' ? 'may connect to' : 'may no longer connect to'} ${flags.workload ?? 'every service'} of ${d.id} (signed instruction ${ins.seq}; ` +
        (pending.length === 0
          ? 'every node of the contract has it)'
          : `not yet replicated by ${pending.map((n) => n.slice(0, 8)).join(', ')}: they apply it once they have it from the bot, scit bot run)`)
    )
  })
}

export async function cmdUpdate(
  ref: string,
  flags: RunFlags,
  set: Record<string, ParamValue>
): Promise<void> {
  precheck(flags, ref, 'update')
  await withBot(flags, async (bot) => {
    const d0 = bot.state.find(ref)
    const d = await following(bot, d0, flags, () =>
      update(bot, d0, set, { waitApprovals: flags.approvals !== false })
    )
    output(flags, describe(d), () => human(d, null))
  })
}

export async function cmdLogs(ref: string, flags: RunFlags): Promise<void> {
  const io = ioOf(flags)
  const tail = flags.tail === undefined ? undefined : whole(flags.tail, '--tail')
  known(flags, ref)
  await withBot(flags, async (bot) => {
    const d = bot.state.find(ref)
    await readLogs(
      bot,
      d,
      (l) => {
        if (flags.json) io.out(JSON.stringify(l) + '\n')
        else
          io.out(
            l.text
              .split('\n')
              .filter(Boolean)
              .map((x) => `${l.node.slice(0, 8)} ${l.stream} ${x}`)
              .join('\n') + '\n'
          )
      },
      {
        follow: flags.follow === true,
        tail,
        signal: io.signal,
        onUnreachable: (u) =>
          io.err(`warning: no logs from node ${u.node} (trade ${u.trade}): ${u.reason}\n`)
      }
    )
  })
}

export async function cmdResult(ref: string, flags: RunFlags): Promise<void> {
  const io = ioOf(flags)
  const timeout = parseDuration(flags.timeout ?? '30s')
  const dir = resolvePath(io, flags.out ?? '.')
  known(flags, ref)
  await withBot(flags, async (bot) => {
    const d = bot.state.find(ref)
    const jobs = jobOutputs(bot, d)
    const got: Fetched[] = []
    for (const { t, output } of jobs) {
      // one replica's output lands in DIR; several go to a folder each
      const dest = path.join(dir, jobs.length === 1 ? '' : shortId(t.id), output)
      got.push(await fetchResult(bot, d, t, output, dest, timeout))
    }
    output(flags, got, () =>
      got
        .map(
          (f) =>
            `${path.relative(io.cwd, f.file) || f.file}  ${f.size} bytes  BLAKE2b-256 ${f.hash}: the digest node ${f.node.slice(0, 8)} signed when the job exited (${new Date(f.signed).toISOString()}), the bytes verified`
        )
        .join('\n')
    )
  })
}
