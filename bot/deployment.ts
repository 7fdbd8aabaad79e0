/**
 * The lifecycle of one contract: instantiate → core → bids → trades → settle →
 * header → approvals → files + deploy → watch, each step recorded before the next
 * so `resume` never redoes a paid one. Settle precedes the header: it needs only the
 * core key, and escrow must lock before the settlement window closes.
 */
import { hold } from '../lib/faults'
import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import { ScitError, isScitError } from '../lib/errors'
import { encodeManifest, ParamValue, Manifest, kindEntry } from '../lib/contract'
import type { Bot } from './bot'
import type { DeploymentRecord } from './records'
import { loadTemplate, Template } from './template'
import { unpackTemplate } from './template-publish'
import { instantiate, planBids, bidFor, Instance } from './manifest'
import { until, pause } from './wait'
import { NotFilled, FillOptions } from './trader'
import { replicaStatus, ReplicaStatus } from './replica-status'
import { requirePhase, toSettle } from './phase'
import { writeLayout } from './archive-deploy'
import { planInstance, describePlan, type ArchivePlan } from './archive-plan'
import { anySignal } from '../lib/io'
import { workloadId } from '../lib/trade-workload'
import { failedForGood } from './jobs'

export interface DeployRequest {
  /** A template file, or the name (name@version) of a template published on the market. */
  template: string
  set?: Record<string, ParamValue>
  /** Default <template>-<random>. */
  id?: string
}

/** From a file, or by name from the market: then unpacked, with its files, under <data>/bot/templates. */
export async function resolveTemplate(bot: Bot, ref: string): Promise<Template> {
  if (fs.existsSync(ref)) return loadTemplate(ref)
  const [name, v] = ref.split('@')
  const t = await bot.client.template(name, v === undefined ? undefined : Number(v))
  if (t === null)
    throw new ScitError(
      'NOT_FOUND',
      `"${ref}" is neither a template file nor a template published on this market (scit bot template list)`
    )
  const { file, folder } = unpackTemplate(path.join(bot.opts.data, 'bot', 'templates'), t)
  return loadTemplate(file, folder)
}

/** Drive a new deployment to deployed, or to the approvals step when `approvals: false`. */
export async function deploy(
  bot: Bot,
  req: DeployRequest,
  opts: ResumeOptions = {}
): Promise<DeploymentRecord> {
  const template = await resolveTemplate(bot, req.template)
  const id = req.id ?? `${template.doc.name}-${Math.random().toString(36).slice(2, 8)}`
  if (bot.state.get(id))
    throw new ScitError('INVALID_ARGUMENT', `a deployment ${id} exists already`)
  const unfollow = opts.progress ? bot.follow(id, opts.progress) : null
  try {
    bot.progress('instantiate', `${template.doc.name} v${template.doc.version}`, id)
    const { inst, plans } = await planInstance(
      bot.client,
      await instantiate(template, req.set ?? {})
    )
    for (const p of plans) for (const line of describePlan(p)) bot.progress('plan', line, id)
    const d: DeploymentRecord = {
      id,
      template: req.template,
      set: req.set ?? {},
      manifestHash: inst.hash.toString('hex'),
      manifest: encodeManifest(inst.manifest).toString('hex'),
      sources: inst.sources.map((s) => ({ ...s, source: path.resolve(s.source) })),
      contract: null,
      phase: 'trading',
      bids: [],
      trades: [],
      created: Date.now(),
      error: null
    }
    bot.state.add(d)
    bot.progress(
      'manifest',
      `${inst.hash.toString('hex')} (${inst.manifest.workloads.map((w) => `${w.replicas} × ${w.name}`).join(', ')})`,
      d.id
    )
    return await resumeUntilDone(bot, d, opts)
  } finally {
    unfollow?.()
  }
}

/** What a deploy would buy, without buying: the manifest, and each archive's plan on today's offers. */
export async function dryRun(
  bot: Bot,
  req: DeployRequest
): Promise<{ inst: Instance; plans: ArchivePlan[] }> {
  const template = await resolveTemplate(bot, req.template)
  return planInstance(bot.client, await instantiate(template, req.set ?? {}))
}

export interface ResumeOptions extends FillOptions {
  waitApprovals?: boolean
  /** The progress lines of this deployment (a command's; bot run logs them all). */
  progress?: (step: string, detail: string) => void
}

/** When the trader gives up buying, what was bought is closed and the deployment fails for good. */
export async function resume(
  bot: Bot,
  d: DeploymentRecord,
  opts: ResumeOptions = {}
): Promise<DeploymentRecord> {
  requirePhase(d, 'resume')
  // a stop cut short (killed, an op not decided in time) is finished, not the deployment it stopped
  if (d.stopping !== undefined) return await stop(bot, d, d.stopping)
  try {
    const writer = await bot.writer(d)
    const manifest = bot.manifestOf(d)
    if (d.phase === 'trading') {
      bot.progress('contract', `core ${d.contract ?? ''}`, d.id)
      if (d.bids.length === 0) {
        const bids = planBids(manifest, {
          expiry: Date.now() + bot.bidWindow
        })
        for (const b of bids) bot.trader.plan(d, b.workload, b.body)
      }
      try {
        do {
          await bot.trader.fill(d, opts)
          await bot.trader.settle(d, writer.key, b4a.from(d.manifestHash, 'hex'))
        } while (rebuyReleased(bot, d, manifest))
        unbought(d, manifest)
      } catch (err) {
        // unpaid matched trades would hold the nodes' capacity until the settlement window ends
        if (err instanceof NotFilled) await abandon(bot, d, err)
        throw err
      }
      d.phase = 'header'
      bot.state.save()
    }
    if (d.phase === 'header') {
      const archive = manifest.workloads.some((w) => w.archive !== null)
      // an archive names its holders in its catalog, a group at a time (thousands of trades fit no header)
      if (!writer.hasHeader)
        await writer.writeHeader(
          manifest,
          archive ? [] : d.trades.filter((t) => t.phase === 'settled').map((t) => t.id)
        )
      if (archive) await writeLayout(bot, d, writer)
      await bot.listenApprovals(d, manifest.stakeholders.threshold > 0)
      bot.progress(
        'header',
        `manifest, ${d.trades.length} trades and the stakeholder policy written to ${d.contract ?? ''}`,
        d.id
      )
      await hold('settle-deploy') // the soak's kill between settle and deploy (lib/faults.ts)
      d.phase = manifest.stakeholders.threshold > 0 ? 'approvals' : 'deploying'
      bot.state.save()
    }
    if (d.phase === 'approvals') {
      await bot.listenApprovals(d)
      if (!writer.view.thresholdReached()) {
        bot.progress(
          'approvals',
          `waiting for stakeholders: weight ${writer.view.approvedWeight()} of ${manifest.stakeholders.threshold} (scit bot sign ${d.contract ?? ''})`,
          d.id
        )
        if (opts.waitApprovals === false) return d
        await waitApproved(bot, d)
      }
      d.phase = 'deploying'
      bot.state.save()
    }
    if (d.phase === 'deploying') {
      if (writer.view.state().deploy === null) {
        const refs = []
        for (const s of d.sources)
          refs.push(await writer.appendFile(s.source, { workload: s.workload, path: s.path }))
        await writer.appendInstruction({ action: 'deploy', files: refs })
      }
      bot.progress(
        'deploy',
        `files and the deploy instruction signed into ${d.contract ?? ''}`,
        d.id
      )
      d.phase = 'running'
      bot.state.save()
    }
    if (d.phase === 'running') await bot.monitor.resumeReplacements(d)
    return d
  } catch (err) {
    if ((err as ScitError).code !== 'CLOSED') {
      d.error = (err as Error).message
      bot.state.save()
    }
    throw err
  }
}

/**
 * Trades the market released before the bot settled them (the settlement window passed while it was down, paused or
 * cut off): each is bought again, one bid that names it (so a restart does not buy it twice). True when it bid.
 */
function rebuyReleased(bot: Bot, d: DeploymentRecord, m: Manifest): boolean {
  // one closed as unreachable (trader.ts reached) lapses too when its close was not decided: its bid bought it again
  const lapsed = d.trades.filter(
    (t) =>
      t.phase === 'released' &&
      t.unreached === undefined &&
      !d.bids.some((b) => b.replaces === t.id)
  )
  for (const t of lapsed) {
    const w = m.workloads.find((x) => x.name === t.workload)
    if (w === undefined) continue
    // an archive's groups are laid out by their first bids (archive-deploy.ts writeLayout): not bought piecemeal
    if (w.archive !== null)
      throw new ScitError('REJECTED', `trade ${t.id} of archive ${w.name} was released unsettled`)
    const taken = d.trades.filter(
      (x) => x.workload === t.workload && (x.phase === 'matched' || x.phase === 'settled')
    )
    const exclude = m.placement.spread ? taken.map((x) => x.node) : []
    const body = bidFor(m, w, 1, { expiry: Date.now() + bot.bidWindow, exclude })
    bot.progress('rebuy', `${d.id}: trade ${t.id} was released unsettled: buying it again`, d.id)
    bot.trader.plan(d, t.workload, body, t.id)
  }
  return lapsed.length > 0
}

/** A failure worth another try: an op not decided in time, a peer that did not answer (not a refusal, nor a close). */
function passing(err: unknown): boolean {
  return isScitError(err, 'TIMEOUT') && !(err instanceof NotFilled) // buying ran out of time: that is for good
}

/**
 * `resume`, again after a failure that may pass, until the deployment runs or fails for good, the bot closes, or
 * the deadline passes (none: as long as it takes, as `scit bot run` does). One try that timed out must not leave a
 * paid trade without its contract: the trades stay settled, and the nodes wait for a deploy.
 */
export async function resumeUntilDone(
  bot: Bot,
  d: DeploymentRecord,
  opts: ResumeOptions = {}
): Promise<DeploymentRecord> {
  let wait = 2000
  for (;;) {
    try {
      return await resume(bot, d, opts)
    } catch (err) {
      const late = opts.deadline !== undefined && Date.now() + wait >= opts.deadline
      if (!passing(err) || late || bot.abort.signal.aborted) throw err
      bot.progress('retry', `${d.id}: ${(err as Error).message}; resuming in ${wait / 1000} s`)
      await pause(wait, bot.abort.signal)
      wait = Math.min(wait * 2, 60_000)
    }
  }
}

/**
 * A workload with no lease once its bids are followed: they all ended unfilled before a restart (the soak, seed 2700
 * on dd24d75: botB's job-1 gave up on three unreachable nodes, the close in its abandon was refused, and resumed, it
 * deployed with no replica and stayed running with nothing to heal). It fails as that fill did. Archives name their
 * holders a group at a time (bot/archive-deploy.ts).
 */
function unbought(d: DeploymentRecord, m: Manifest): void {
  for (const w of m.workloads) {
    if (w.archive !== null || d.trades.some((t) => t.workload === w.name && t.phase === 'settled'))
      continue
    const last = d.bids.filter((b) => b.workload === w.name).pop()
    throw new NotFilled(
      'CAPACITY',
      `no lease of ${w.name} was bought: ${last?.reason ?? 'its bids ended unfilled'}`
    )
  }
}

/** Matched, not settled: closing moves no money. */
async function abandon(bot: Bot, d: DeploymentRecord, err: Error): Promise<void> {
  for (const t of d.trades.filter((x) => x.phase === 'matched' || x.phase === 'settled'))
    await bot.trader.end(d, t.id, 'close', `deployment failed: ${err.message}`)
  await cancelBids(bot, d)
  d.phase = 'failed'
  d.error = err.message
  bot.state.save()
  bot.progress('failed', `${d.id}: ${err.message}`, d.id)
}

async function cancelBids(bot: Bot, d: DeploymentRecord): Promise<void> {
  for (const b of d.bids.filter((x) => x.phase === 'submitted' && x.id !== null)) {
    const [cid] = await bot.client.submit([{ type: 'cancel', body: { bid: b.id as string } }])
    await bot.trader.outcome(cid)
    b.phase = 'cancelled'
  }
}

export function waitApproved(bot: Bot, d: DeploymentRecord): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      bot.writer(d).then(
        (w) => {
          if (!w.view.thresholdReached()) return
          done()
          resolve()
        },
        (err) => {
          done()
          reject(err)
        }
      )
    }
    const onabort = (): void => {
      done()
      reject(new ScitError('CLOSED', 'the bot is closing'))
    }
    const done = (): void => {
      bot.events.off('approval', check)
      bot.abort.signal.removeEventListener('abort', onabort)
    }
    bot.events.on('approval', check)
    bot.abort.signal.addEventListener('abort', onabort)
    check()
  })
}

const UP = new Set(['running', 'exited'])

/**
 * Resolve once every live lease reports running (a job: exited). A replica failed
 * for good rejects REPLICA_FAILED with the node's reason; `deadline` (wall-clock ms) TIMEOUT.
 */
export async function waitRunning(
  bot: Bot,
  d: DeploymentRecord,
  opts: { poll?: number; deadline?: number; signal?: AbortSignal } = {}
): Promise<ReplicaStatus[]> {
  let last: ReplicaStatus[] = []
  const manifest = bot.manifestOf(d)
  const ok = await until(
    bot.client,
    async () => {
      last = await replicaStatus(bot, d, 2000)
      // a job whose node signed its end has its lease closed now, and counts as done (bot/jobs.ts)
      for (const t of d.trades.filter((x) => x.phase === 'settled'))
        await bot.monitor.jobs.check(d, t, bot.monitor.watch(t.node).state(workloadId(t)))
      const live = last.filter(
        (r) => r.lease === 'settled' || d.trades.some((t) => t.id === r.trade && t.job != null)
      )
      const dead = live.find((r) =>
        failedForGood(r, manifest.workloads.find((w) => w.name === r.workload)?.restart)
      )
      if (dead) {
        d.error = `node ${dead.node.slice(0, 8)} signed that replica ${dead.trade} of ${dead.workload} failed: ${dead.reason}`
        bot.state.save()
        const ended = finishes(manifest, dead.workload)
          ? `its lease is closed and the unused escrow refunded; its output: scit bot logs ${d.id}`
          : `its output: scit bot logs ${d.id}; scit bot stop ${d.id} closes the leases and refunds the unused escrow`
        throw new ScitError('REPLICA_FAILED', `${d.error}; ${ended}`)
      }
      // a job that runs has not done its work yet
      return (
        live.length > 0 &&
        live.every((r) => (finishes(manifest, r.workload) ? r.state === 'exited' : UP.has(r.state)))
      )
    },
    {
      poll: opts.poll ?? 250,
      deadline: opts.deadline,
      signal: opts.signal ? anySignal(bot.abort.signal, opts.signal) : bot.abort.signal
    }
  )
  if (!ok)
    throw new ScitError(
      'TIMEOUT',
      `not all replicas of ${d.id} run: ${last.map((r) => `${r.trade} ${r.state} (${r.reason})`).join('; ')}`
    )
  return last
}

/** A kind that finishes (a job) is up once it exited, not while it runs. */
function finishes(m: Manifest, workload: string): boolean {
  const w = m.workloads.find((x) => x.name === workload)
  return w !== undefined && kindEntry(w.kind).finishes
}

/** The signed stop instruction, then close every lease (refunding unused escrow). */
export async function stop(
  bot: Bot,
  d: DeploymentRecord,
  reason = 'stopped by the bot'
): Promise<DeploymentRecord> {
  requirePhase(d, 'stop')
  // Kept first: a stop cut short anywhere below is finished by the next resume (scit bot run), never
  // taken for a deployment to carry on with (it would buy, settle and deploy what its user stopped).
  d.stopping = reason
  bot.state.save()
  const w = await bot.writer(d)
  if (w.hasHeader && !w.view.state().stopped) await w.appendInstruction({ action: 'stop', reason })
  bot.progress(
    'stop',
    `${d.id}: ${w.hasHeader ? 'stop instruction signed' : 'stopped before its contract had a header'}`,
    d.id
  )
  for (const t of d.trades.filter((x) => x.phase === 'settled' || x.phase === 'matched'))
    await bot.trader.end(d, t.id, 'close', reason)
  await cancelBids(bot, d)
  d.phase = 'stopped'
  delete d.stopping
  bot.state.save()
  await bot.stopListening(d)
  return d
}

export async function scale(
  bot: Bot,
  d: DeploymentRecord,
  workload: string | null,
  replicas: number,
  fill: FillOptions = {}
): Promise<DeploymentRecord> {
  requirePhase(d, 'scale')
  const w = await bot.writer(d)
  const m = w.view.current.manifest
  const wl = workload === null ? m.workloads[0] : m.workloads.find((x) => x.name === workload)
  if (!wl)
    throw new ScitError(
      'INVALID_ARGUMENT',
      `no workload "${workload ?? ''}" in ${d.id}: ${m.workloads.map((x) => x.name).join(', ')}`
    )
  if (replicas < 1)
    throw new ScitError(
      'INVALID_ARGUMENT',
      'scale to at least 1 replica (scit bot stop ends a contract)'
    )
  const live = d.trades.filter((t) => t.workload === wl.name && t.phase === 'settled')
  const before = live.length
  let added: string[] = []
  if (replicas > before) {
    const exclude = m.placement.spread ? live.map((t) => t.node) : []
    const body = bidFor(m, wl, replicas - before, { expiry: Date.now() + bot.bidWindow, exclude })
    bot.trader.plan(d, wl.name, body)
    // NotFilled: every bid has ended and nothing was bought; the contract runs on as it was
    await bot.trader.fill(d, fill)
    added = d.trades
      .filter((t) => t.workload === wl.name && toSettle(t) && !live.includes(t))
      .map((t) => t.id)
  }
  // named before settling: a node seeing its settled trade must find it in the core, or it refuses it as another node's
  await w.appendInstruction({
    action: 'scale',
    scale: [{ workload: wl.name, replicas }],
    trades: added,
    reason: `scale ${before} → ${replicas}`
  })
  if (added.length > 0) await bot.trader.settle(d, w.key, w.view.manifestHash) // the header's, as a heal's
  // a node runs replica i while i < the scaled count: keep the lowest indexes
  const index = (id: string): number => Number(id.slice(id.lastIndexOf('.') + 1))
  const keep = [...live].sort((a, b) => index(a.id) - index(b.id)).slice(0, replicas)
  for (const t of live.filter((x) => !keep.includes(x)))
    await bot.trader.end(d, t.id, 'close', `scaled to ${replicas}`)
  bot.progress('scale', `${d.id}: ${wl.name} ${before} → ${replicas}`, d.id)
  return d
}

/** Same resources and placement; anything else is a stop and a new deploy. */
export async function update(
  bot: Bot,
  d: DeploymentRecord,
  set: Record<string, ParamValue>,
  opts: { waitApprovals?: boolean } = {}
): Promise<DeploymentRecord> {
  requirePhase(d, 'update')
  const w = await bot.writer(d)
  const template = await resolveTemplate(bot, d.template)
  const inst: Instance = await instantiate(template, { ...d.set, ...set })
  const old = w.view.current.manifest
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)
  if (
    !same(old.placement, inst.manifest.placement) ||
    inst.manifest.workloads.length !== old.workloads.length ||
    inst.manifest.workloads.some(
      (x, i) => !same(x.resources, old.workloads[i].resources) || x.name !== old.workloads[i].name
    )
  ) {
    throw new ScitError(
      'INVALID_ARGUMENT',
      'this update changes resources, workloads or placement: the leases no longer fit; stop the contract and deploy the new version'
    )
  }
  const have = new Map([...w.view.blobs.values()].map((b) => [b.start, b]))
  const prev = w.view.state().deploy?.files ?? []
  const refs = []
  for (const s of inst.sources) {
    const f = inst.manifest.workloads
      .find((x) => x.name === s.workload)
      ?.files.find((x) => x.path === s.path)
    const reuse = prev.find(
      (r) =>
        r.workload === s.workload &&
        r.path === s.path &&
        f &&
        r.hash.equals(f.hash) &&
        have.has(r.start)
    )
    refs.push(reuse ?? (await w.appendFile(s.source, { workload: s.workload, path: s.path })))
  }
  await w.appendInstruction({ action: 'update', manifest: inst.manifest, files: refs })
  d.set = { ...d.set, ...set }
  d.manifest = encodeManifest(inst.manifest).toString('hex')
  d.manifestHash = inst.hash.toString('hex')
  d.sources = inst.sources.map((s) => ({ ...s, source: path.resolve(s.source) }))
  bot.state.save()
  bot.progress(
    'update',
    `${d.id}: manifest ${d.manifestHash} in force${inst.manifest.stakeholders.threshold > 0 ? ': nodes wait for the stakeholders to sign it again' : ''}`,
    d.id
  )
  if (inst.manifest.stakeholders.threshold > 0) {
    await bot.listenApprovals(d)
    if (opts.waitApprovals !== false) await waitApproved(bot, d)
  }
  return d
}
