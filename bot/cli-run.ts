/**
 * `scit bot deploy|sign|approvals|status|logs|stop|scale|update|run`: the
 * commands that open the bot (its store, swarm and market peer) for the
 * length of one action. One process at a time may hold a bot's data dir: a
 * second one is told so (BUSY) instead of corrupting state.
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import readline from 'readline'
import Corestore from 'corestore'
import { configFrom, output, untilSignal, CommonFlags } from '../lib/command'
import { requireMarket } from '../lib/config'
import { createSwarm } from '../lib/swarm'
import { ScitError } from '../lib/errors'
import { loadIdentity } from '../lib/identity'
import { decodeKey, encodeKey } from '../lib/keys'
import { shortId } from '../lib/envelope'
import { parseDuration } from '../market/cli-peer'
import { Bot } from './bot'
import { deploy, resume, waitRunning, stop, scale, update } from './deployment'
import { replicaStatus, ReplicaStatus } from './replica-status'
import { grantAccess, delivered } from './access'
import { ContractSession } from './sign'
import { manifestSummary } from './stakeholders'
import { readLogs } from './logs'
import { BotState, DeploymentRecord } from './state'
import { requirePhase, Command } from './phase'
import type { ParamValue } from '../lib/contract'
import safetyCatch from 'safety-catch'

export interface RunFlags extends CommonFlags {
  set?: string[]
  id?: string
  wait?: string
  yes?: boolean
  role?: string
  follow?: boolean
  workload?: string
  grace?: string
  interval?: string
  renewBefore?: string
  approvals?: boolean
  tail?: string
  timeout?: string
}

function progressLine(step: string, detail: string): void {
  process.stderr.write(`→ ${step.padEnd(11)} ${detail}\n`)
}

/** Open the bot of --data on --market; BUSY when another process holds it. */
export async function openBot(flags: RunFlags, quiet = false): Promise<Bot> {
  const config = configFrom(flags)
  const monitor = {
    ...(flags.grace ? { grace: parseDuration(flags.grace) } : {}),
    ...(flags.interval ? { interval: parseDuration(flags.interval) } : {}),
    ...(flags.renewBefore
      ? { renewBefore: flags.renewBefore === '0' ? 0 : parseDuration(flags.renewBefore) }
      : {})
  }
  const bot = new Bot({
    data: config.data,
    market: requireMarket(config),
    bootstrap: config.bootstrap,
    monitor,
    progress: quiet ? undefined : progressLine
  })
  try {
    await bot.ready()
  } catch (err) {
    await bot.close().catch(safetyCatch)
    if (/lock/i.test((err as Error).message))
      throw new ScitError(
        'BUSY',
        `the bot in ${config.data} is running in another process (scit bot run?): stop it first, or use its output`
      )
    throw err
  }
  return bot
}

/**
 * Refuse from the state file, before the bot opens (no network, nothing
 * bought), what makes no sense in the contract's phase; the command checks
 * again once it holds the bot.
 */
function precheck(flags: RunFlags, ref: string, cmd: Command): void {
  requirePhase(new BotState(configFrom(flags).data).load().find(ref), cmd)
}

export async function withBot<T>(flags: RunFlags, fn: (bot: Bot) => Promise<T>): Promise<T> {
  const bot = await openBot(flags)
  const stopOnSignal = untilSignal().then(() => bot.close())
  try {
    return await fn(bot)
  } finally {
    await bot.close()
    void stopOnSignal
  }
}

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
  await withBot(flags, async (bot) => {
    // The timeout bounds buying (re-bidding as often as it takes until then), then waiting for the replicas; not the stakeholders.
    const d = await deploy(
      bot,
      { template, set, id: flags.id },
      {
        waitApprovals: flags.approvals !== false,
        deadline: Date.now() + timeout,
        attempts: Infinity
      }
    )
    let replicas: ReplicaStatus[] | null = null
    if (flags.wait === 'running' && d.phase === 'running') {
      bot.monitor.start()
      bot.progress('wait', 'until every replica runs')
      replicas = await waitRunning(bot, d, { deadline: Date.now() + timeout })
    }
    output(flags, describe(d, replicas), () => human(d, replicas))
  })
}

export async function cmdStatus(ref: string | undefined, flags: RunFlags): Promise<void> {
  let bot: Bot | null = null
  try {
    bot = await openBot(flags, true)
  } catch (err) {
    if ((err as ScitError).code !== 'BUSY') throw err
  }
  try {
    // With the bot busy elsewhere, its state file still says what it did.
    const state = bot?.state ?? new BotState(configFrom(flags).data).load()
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
  } finally {
    await bot?.close()
  }
}

export async function cmdStop(ref: string, flags: RunFlags): Promise<void> {
  precheck(flags, ref, 'stop')
  await withBot(flags, async (bot) => {
    const d = await stop(bot, bot.state.find(ref))
    output(flags, describe(d), () => human(d, null))
  })
}

export async function cmdScale(ref: string, n: string, flags: RunFlags): Promise<void> {
  const replicas = Number(n)
  if (!Number.isSafeInteger(replicas))
    throw new ScitError('INVALID_ARGUMENT', `"${n}" is not a replica count`)
  precheck(flags, ref, 'scale')
  const timeout = parseDuration(flags.timeout ?? '5m')
  await withBot(flags, async (bot) => {
    const d = await scale(bot, bot.state.find(ref), flags.workload ?? null, replicas, {
      deadline: Date.now() + timeout,
      attempts: Infinity
    })
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
    const ins = await grantAccess(bot, d, k, flags.workload ?? null, revoke)
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
    const d = await update(bot, bot.state.find(ref), set, {
      waitApprovals: flags.approvals !== false
    })
    output(flags, describe(d), () => human(d, null))
  })
}

export async function cmdRun(flags: RunFlags): Promise<void> {
  const bot = await openBot(flags)
  const live = bot.state.deployments.filter((d) => d.phase !== 'stopped' && d.phase !== 'failed')
  for (const d of live)
    resume(bot, d).catch((err) => progressLine('error', `${d.id}: ${(err as Error).message}`))
  bot.monitor.start()
  progressLine('run', `bot ${bot.key} watching ${live.length} contracts; Ctrl-C to stop`)
  await untilSignal()
  await bot.close()
}

export async function cmdLogs(ref: string, flags: RunFlags): Promise<void> {
  await withBot(flags, async (bot) => {
    const d = bot.state.find(ref)
    const abort = new AbortController()
    untilSignal().then(
      () => abort.abort(),
      () => {}
    )
    await readLogs(
      bot,
      d,
      (l) => {
        if (flags.json) process.stdout.write(JSON.stringify(l) + '\n')
        else
          process.stdout.write(
            l.text
              .split('\n')
              .filter(Boolean)
              .map((x) => `${l.node.slice(0, 8)} ${l.stream} ${x}`)
              .join('\n') + '\n'
          )
      },
      {
        follow: flags.follow === true,
        tail: flags.tail ? Number(flags.tail) : undefined,
        signal: abort.signal,
        onUnreachable: (u) =>
          process.stderr.write(
            `warning: no logs from node ${u.node} (trade ${u.trade}): ${u.reason}\n`
          )
      }
    )
  })
}

/** Fetch a contract core from its bot over the approvals topic, with a throw-away store. */
async function withSession<T>(
  ref: string,
  flags: RunFlags,
  fn: (s: ContractSession, identity: ReturnType<typeof loadIdentity>) => Promise<T>
): Promise<T> {
  const config = configFrom(flags)
  const identity = loadIdentity(config.data)
  const local = fs.existsSync(path.join(config.data, 'bot', 'state.json'))
    ? new BotState(config.data).load().deployments.find((d) => d.id === ref)
    : undefined
  const contract = decodeKey(local?.contract ?? ref, 'contract key')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-sign-'))
  const store = new Corestore(dir)
  const swarm = createSwarm(config, identity)
  const s = new ContractSession({ store, swarm, contract })
  try {
    await s.ready()
    return await fn(s, identity)
  } finally {
    await s.close().catch(safetyCatch)
    await swarm.destroy()
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

export async function cmdApprovals(ref: string, flags: RunFlags): Promise<void> {
  await withSession(ref, flags, async (s) => {
    const { reached, ...a } = s.view.approvalSummary()
    output(flags, a, () =>
      [
        `manifest ${a.manifestHash}: weight ${a.weight} of ${a.threshold}${reached ? ' (reached)' : ''}`,
        ...a.signers.map(
          (y) =>
            `  ${y.signed ? 'signed ' : 'pending'} ${y.role.padEnd(10)} ${y.key} weight ${y.weight}`
        )
      ].join('\n')
    )
  })
}

export async function cmdSign(ref: string, flags: RunFlags): Promise<void> {
  await withSession(ref, flags, async (s, identity) => {
    if (s.view.state().stopped)
      throw new ScitError(
        'BAD_STATE',
        `contract ${encodeKey(s.core.key)} is stopped: nothing to sign`
      )
    const role = flags.role ?? s.roleOf(identity.publicKey)
    if (!flags.json) process.stderr.write(manifestSummary(s.view.current.manifest) + '\n\n')
    if (role === null)
      process.stderr.write(
        `warning: ${encodeKey(identity.publicKey)} is not a stakeholder of this manifest: the bot will refuse the signature\n`
      )
    if (
      !flags.yes &&
      !(await confirm(
        `sign manifest ${s.view.current.hash.toString('hex').slice(0, 16)}… as ${role ?? 'none'} (${encodeKey(identity.publicKey).slice(0, 8)})? [y/N] `
      ))
    ) {
      throw new ScitError('REJECTED', 'not signed')
    }
    const { result } = await s.sign(identity, role ?? undefined)
    if (!result.accepted)
      throw new ScitError('REJECTED', `the bot refused the signature: ${result.reason ?? ''}`)
    output(
      flags,
      {
        contract: encodeKey(s.core.key),
        manifestHash: s.view.current.hash.toString('hex'),
        role,
        weight: result.weight,
        threshold: result.threshold
      },
      () =>
        `signed: weight ${result.weight} of ${result.threshold}${result.weight >= result.threshold ? ' — threshold reached, the nodes may run it' : ''}`
    )
  })
}

function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr })
  return new Promise((resolve) =>
    rl.question(question, (answer) => {
      rl.close()
      resolve(/^y(es)?$/i.test(answer.trim()))
    })
  )
}
