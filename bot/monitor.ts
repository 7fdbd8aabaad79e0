/**
 * Monitoring and self-healing (docs/ARCHITECTURE.md "Self-healing"): every `interval` the bot pings
 * the nodes of its live leases, reads their signed status, copies declared state and challenges
 * archive holders; a node silent past `grace`, one that answers but has not run its lease for
 * `grace` + `startWithin`, or one whose proof fails, is healed.
 */
import { isScitError } from '../lib/errors'
import { logger } from '../lib/log'
import { costFor } from '../lib/resources'
import { workloadId } from '../lib/trade-workload'
import type { Verdict } from '../lib/storage-proof'
import type { StatusRecord } from '../lib/node-messages'
import type { BotHost } from './host'
import type { DeploymentRecord, TradeRecord } from './records'
import { bidFor } from './manifest'
import { groupOf, groupPeers, writeRepairs, catalogOf } from './archive-deploy'
import { NodeWatch } from './watch'
import { Challenges } from './challenges'
import { StateCopies } from './state-copies'
import { decodeKey, shortKey } from '../lib/keys'
import { kindEntry, type RestoreRef } from '../lib/contract'
import { Jobs } from './jobs'
import { toSettle, inFlight } from './phase'
import safetyCatch from 'safety-catch'

const log = logger('bot/monitor')

export interface MonitorOptions {
  /** Ping every … ms. */
  interval: number
  /** A node silent this long (ms) is replaced. */
  grace: number
  /** Challenge archive holders every … ms (0: never). */
  challengeInterval: number
  /** false: watch and report only, never fail/re-buy (for `status`). */
  heal: boolean
  /** Buy the next lease this long (ms) before the current one ends; 0: never renew. */
  renewBefore: number
  /** A node where a lease of this bot failed is avoided by its heals for this long (ms); default 3 × grace (unreached: grace). */
  avoidFor?: number
  /**
   * A lease whose node answers but has not run it, nor got further starting it, for `grace` + this long (ms) is
   * healed (`stalled`); default `grace`: a start may take what silence may, again.
   */
  startWithin?: number
}

export const DEFAULT_MONITOR: MonitorOptions = {
  interval: 5000,
  grace: 60_000,
  challengeInterval: 600_000,
  heal: true,
  renewBefore: 0
}

/** One storage challenge's result: bot.events 'challenge'. */
export interface ChallengeEvent {
  deployment: string
  trade: string
  node: string
  ok: boolean
  reason: string
}

/** How long one challenge (reach, head update, answer) may take at most. */
const CHALLENGE_TIMEOUT = 10_000

const LIVE = new Set(['running', 'deploying', 'approvals'])
/** A replacement that could not be bought is tried again after this long (ms). */
const RETRY_HEAL = 30_000
/** The bot's own loop late by more than this (ms) past its interval: it stood still (paused, starved). */
const STALL = 2000

/**
 * A failed lease with no replacement: no trade names it as the one it replaces (one closed or released unsettled
 * does not count, nor one its bot found unreachable, to be closed unsettled; a failed one has its own), and no bid
 * for one is in flight. The soak (seed 2700 on 225f8a5): botB killed between marking its job's replacement on
 * qrtujpk3 unreached (its bid given up) and closing it; the trade stayed matched in its records for good, and the job
 * was never healed again.
 */
export function unreplaced(d: DeploymentRecord, t: TradeRecord): boolean {
  const replacing = (x: TradeRecord): boolean =>
    x.replaces === t.id &&
    x.phase !== 'closed' &&
    x.phase !== 'released' &&
    !(x.phase === 'matched' && x.unreached !== undefined)
  return (
    t.phase === 'failed' &&
    !d.trades.some(replacing) &&
    !d.bids.some((b) => b.replaces === t.id && inFlight(d, b))
  )
}

export class Monitor {
  readonly opts: MonitorOptions
  readonly challenges: Challenges
  /** Copies of the replicas' state cores (bot/state-copies.ts). */
  readonly stateCopies: StateCopies
  /** Job replicas whose node signed their end: their leases are closed (bot/jobs.ts). */
  readonly jobs: Jobs
  private timer: NodeJS.Timeout | null = null
  private readonly watches = new Map<string, NodeWatch>()
  private readonly lastSeen = new Map<string, number>()
  private readonly lastChallenge = new Map<string, number>()
  /** Archive trades whose node signed that it holds the archive: challenged from then on. */
  private readonly audited = new Set<string>()
  /** Archive trades whose last challenge went unanswered or was refused: since when. */
  private readonly failing = new Map<string, number>()
  private readonly healing = new Map<string, Promise<void>>()
  /** Leases seen not running while their node answered: since when, and each signed word seen since (`stalled`). */
  private readonly stalls = new Map<string, { since: number; seen: Set<string> }>()
  /** Leases whose node's last signed word is a refusal: at how many checks in a row. */
  private readonly refusals = new Map<string, number>()
  /** Failed leases whose replacement failed to buy: when to try again. */
  private readonly retryAt = new Map<string, number>()
  /** Per deployment, the replacements being named and settled (nameReplacements): one at a time. */
  private readonly naming = new Map<string, Promise<void>>()
  /** Per archive group or spread workload, the heal buying a replacement now: one at a time (inTurn). */
  private readonly turns = new Map<string, Promise<void>>()
  private ticking: Promise<void> | null = null
  private closed = false
  /** performance.now() at the last interval: a much longer gap is the bot's own stall. */
  private beat = 0

  constructor(
    private readonly bot: BotHost,
    opts: Partial<MonitorOptions> = {}
  ) {
    this.opts = { ...DEFAULT_MONITOR, ...opts }
    this.challenges = new Challenges(bot)
    this.stateCopies = new StateCopies(bot)
    this.jobs = new Jobs(bot)
  }

  /** The bot's replica of `node`'s signed status core. */
  watch(node: string): NodeWatch {
    let w = this.watches.get(node)
    if (!w) this.watches.set(node, (w = new NodeWatch(this.bot, node)))
    return w
  }

  /** Start the periodic checks (scit bot run, deploy --wait). Idempotent. */
  start(): void {
    if (this.timer !== null || this.closed) return
    this.beat = performance.now()
    this.timer = setInterval(() => {
      this.forgive()
      this.tick().catch((err) => log.warn('monitor tick failed', { err: (err as Error).message }))
    }, this.opts.interval)
    this.tick().catch(safetyCatch)
  }

  /** Stop checking; resolves once the check and heals in progress are done and the replicas are closed. */
  async close(): Promise<void> {
    this.closed = true
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    await this.ticking?.catch(safetyCatch) // a check cut short by the closing bot (CLOSED) is no failure to close
    await this.idle()
    for (const w of this.watches.values()) await w.close()
    this.watches.clear()
    await this.challenges.close()
    await this.stateCopies.close()
  }

  /** Resolves once every heal in progress is done (tests, and stop). */
  async idle(): Promise<void> {
    while (this.healing.size) await Promise.all(this.healing.values()).catch(safetyCatch)
  }

  /**
   * Silence counts only while the bot could hear: time it reached no indexer (cut off itself) or its own loop
   * stood still (paused, starved) is not held against its nodes. Else a bot back from its own isolation heals
   * healthy nodes at once, and the writes their replicas took meanwhile, newer than its copy of their state, are lost.
   */
  private forgive(): void {
    const at = performance.now()
    const gap = at - this.beat
    this.beat = at
    const late = gap - this.opts.interval
    const lost = !this.bot.reachesMarket() ? gap : late > STALL ? late : 0
    if (lost <= 0) return
    const now = Date.now()
    for (const [node, seen] of this.lastSeen) this.lastSeen.set(node, Math.min(now, seen + lost))
    for (const [id, since] of this.failing) this.failing.set(id, Math.min(now, since + lost))
    for (const s of this.stalls.values()) s.since = Math.min(now, s.since + lost)
  }

  private tick(): Promise<void> {
    if (this.ticking !== null || this.closed) return Promise.resolve()
    this.ticking = this.checkAll().finally(() => {
      this.ticking = null
    })
    return this.ticking
  }

  private async checkAll(): Promise<void> {
    for (const d of this.bot.state.deployments) {
      if (!LIVE.has(d.phase) || d.stopping !== undefined || this.closed) continue
      await this.sync(d)
      this.jobs.finishIfDone(d) // its last job's end recorded and its close final while the bot was away
      await Promise.all(d.trades.filter((t) => t.phase === 'settled').map((t) => this.check(d, t)))
      // A heal decided before a restart (its node past grace then) is finished now, not after another grace.
      for (const t of d.trades.filter((x) => x.phase === 'settled' && x.healing !== undefined))
        if ((this.retryAt.get(t.id) ?? 0) <= Date.now()) void this.heal(d, t, t.healing as string)
      // A heal cut short after its `fail` (the bot killed, an op not decided in time) left a failed lease
      // nothing replaces: the replica would be lost for good. Not one whose bid the trader still follows (a
      // restart's resume), between two of its bids: the soak (seed 2700 on 80312c7) healed botB's CRM twice that way,
      // and two replicas of it served, each from its own copy.
      for (const t of d.trades.filter(
        (x) => unreplaced(d, x) && !this.bot.trader.replacing(x.id)
      )) {
        if ((this.retryAt.get(t.id) ?? 0) > Date.now()) continue
        void this.heal(d, t, `lease ${t.id} failed and nothing replaced it yet`)
      }
      this.followReplacements(d)
    }
  }

  /**
   * A replacement bid whose heal or renewal gave up waiting (its outcome not final in time) is in flight, so no
   * heal is tried again: follow it now, as a restart would, or the replica stays lost while the bot runs.
   * Only while nothing else works on its replacements (they are finished together).
   */
  private followReplacements(d: DeploymentRecord): void {
    // a deploy in progress fills its own bids (trader.fill takes every open one)
    if (!this.opts.heal || d.phase !== 'running') return
    if (d.trades.some((x) => this.healing.has(x.id))) return
    const stuck = d.bids.find(
      (b) =>
        b.replaces !== null && inFlight(d, b) && (this.retryAt.get(b.replaces) ?? 0) <= Date.now()
    )
    const key = stuck?.replaces
    if (key === undefined || key === null) return
    const p = this.resumeReplacements(d)
      .then(() => {
        this.retryAt.delete(key)
      })
      .catch((err) => {
        this.retryAt.set(key, Date.now() + RETRY_HEAL)
        this.bot.progress(
          'heal-failed',
          `${d.id}: following the replacement of trade ${key} failed: ${(err as Error).message}`,
          d.id
        )
      })
      .finally(() => this.healing.delete(key))
    this.healing.set(key, p)
  }

  /** Leases end on the market's clock (full term, or a node's claim): bring the records up to date. */
  private async sync(d: DeploymentRecord): Promise<void> {
    let changed = false
    for (const t of d.trades.filter((x) => x.phase === 'settled')) {
      const now = await this.bot.client.trade(t.id)
      if (now !== null && now.state !== t.phase) {
        t.phase = now.state
        changed = true
        this.bot.progress(
          'lease-ended',
          `${d.id}: lease ${t.id} on node ${shortKey(t.node)} is ${now.state} in the market`,
          d.id
        )
      }
      if (now !== null && now.state === 'settled' && now.end !== null) this.renew(d, t, now.end)
    }
    if (changed) this.bot.state.save()
  }

  /** Buy the lease that follows `t` once its end is near, once. */
  private renew(d: DeploymentRecord, t: TradeRecord, end: number): void {
    if (this.opts.renewBefore <= 0 || !this.opts.heal || end - Date.now() > this.opts.renewBefore)
      return
    // a job's next lease would run it again
    if (
      this.bot
        .manifestOf(d)
        .workloads.some((w) => w.name === t.workload && kindEntry(w.kind).finishes)
    )
      return
    if (d.bids.some((b) => b.replaces === t.id) || this.healing.has(t.id)) return
    const p = this.buyAgain(
      d,
      t,
      [],
      `lease ${t.id} ends in ${Math.max(0, end - Date.now())} ms: renewing`
    )
      .catch((err) => {
        this.bot.progress(
          'renew-failed',
          `${d.id}: renewing trade ${t.id} failed: ${(err as Error).message}`,
          d.id
        )
      })
      .finally(() => this.healing.delete(t.id))
    this.healing.set(t.id, p)
  }

  private async check(d: DeploymentRecord, t: TradeRecord): Promise<void> {
    const now = Date.now()
    if (!this.lastSeen.has(t.node)) this.lastSeen.set(t.node, now) // a node gets its grace from when watching starts
    const ch = this.bot.nodeChannel(t.node)
    let answered = false
    if (ch !== null) {
      try {
        await ch.ping({ timeout: this.opts.interval })
        this.lastSeen.set(t.node, Date.now())
        answered = true
      } catch {}
      await this.watch(t.node).refresh(ch, this.opts.interval).catch(safetyCatch)
    }
    const status = this.watch(t.node).state(workloadId(t))
    if (this.refusedForGood(t, status?.body ?? null))
      return this.begin(
        d,
        t,
        `node ${t.node.slice(0, 8)} refused the lease: ${status?.body.reason ?? ''}`
      )
    await this.jobs.check(d, t, status)
    if (t.job != null) return
    await this.copyState(d, t)
    const silent = Date.now() - (this.lastSeen.get(t.node) ?? now)
    if (silent > this.opts.grace)
      return this.begin(d, t, `node ${t.node.slice(0, 8)} unreachable for ${silent} ms`)
    const stalled = this.stalled(d, t, status?.body ?? null, answered)
    if (stalled !== null) return this.begin(d, t, stalled)
    if (ch !== null && this.opts.challengeInterval > 0 && this.challenges.isChallenged(d, t))
      return this.audit(d, t)
  }

  /**
   * A node signs 'refused' only for good (node/contracts.ts refusalState: the contract, its files or the trade are
   * wrong for it; a passing reason is 'verifying'): such a lease never runs, so it is replaced like a dead one.
   * Seen at two checks in a row, so that a refusal the node took back at once (its copy of the core was behind) is not.
   */
  private refusedForGood(t: TradeRecord, status: { state: string } | null): boolean {
    if (status?.state !== 'refused') {
      this.refusals.delete(t.id)
      return false
    }
    const seen = (this.refusals.get(t.id) ?? 0) + 1
    this.refusals.set(t.id, seen)
    return seen >= 2
  }

  /**
   * A lease whose node answers but does not run it (the soak, seed 2700: a node killed, paused and restarted every
   * 20-40 s answered each time, re-verified the lease and never started the job for 84 s; never silent for `grace`,
   * it was never healed). The clock starts when the bot first sees it not running while its node answers (at settle
   * for a lease that never ran; for a restarted bot, when watching starts) and goes on while the node is away; it
   * starts again once the lease is seen to have run (running; a job's end closes its lease, bot/jobs.ts; an exit or a
   * crash the supervisor restarts means it ran: that is the workload's failure, which another node would repeat) or
   * to get further: a signed word (state and reason) not seen since the clock started, such as the next step of a
   * start or a fetch's bytes (node/lease.ts `fetching`). A node restarted in a loop signs the same words again
   * ("verifying contract …", "launching"), which is no progress. Healed past `grace` + `startWithin`; archives are
   * judged by their proofs instead.
   */
  private stalled(
    d: DeploymentRecord,
    t: TradeRecord,
    status: StatusRecord | null,
    answered: boolean
  ): string | null {
    const ran =
      status !== null &&
      (status.state === 'running' ||
        status.state === 'exited' ||
        (status.state === 'failed' && (status.exitCode !== null || status.signal !== null)))
    const archive = this.bot.manifestOf(d).workloads.find((w) => w.name === t.workload)?.archive
    // before its deploy instruction (approvals, files being appended) no node can run it: its clock starts after
    if (ran || archive != null || d.phase !== 'running') {
      this.stalls.delete(t.id)
      return null
    }
    const word = status === null ? 'no status' : `${status.state}: ${status.reason}`
    const now = Date.now()
    const s = this.stalls.get(t.id)
    if (s === undefined) {
      if (answered) this.stalls.set(t.id, { since: now, seen: new Set([word]) })
      return null
    }
    if (!s.seen.has(word)) {
      s.seen.add(word)
      s.since = now
      return null
    }
    const long = now - s.since
    if (long <= this.opts.grace + (this.opts.startWithin ?? this.opts.grace)) return null
    return `node ${t.node.slice(0, 8)} has not run ${t.workload} for ${long} ms (it signs ${word})`
  }

  /**
   * Challenge an archive lease when due. A proof that does not verify heals it
   * at once; a refusal or no answer makes it "failing", re-challenged every
   * tick, and healed once it has failed for longer than `grace`.
   */
  private async audit(d: DeploymentRecord, t: TradeRecord): Promise<void> {
    const now = Date.now()
    if (!this.failing.has(t.id)) {
      // A node still downloading the archive cannot answer yet: challenges start once it signed that it holds it all.
      if (!this.audited.has(t.id)) {
        if (this.watch(t.node).state(workloadId(t))?.body.state !== 'running') return
        this.audited.add(t.id)
      }
      if (now - (this.lastChallenge.get(t.id) ?? 0) < this.opts.challengeInterval) return
    }
    this.lastChallenge.set(t.id, now)
    let verdict: Verdict | null
    try {
      verdict = await this.challenges.challenge(
        d,
        t,
        Math.min(CHALLENGE_TIMEOUT, Math.max(this.opts.grace, this.opts.interval))
      )
    } catch (err) {
      const reason = (err as Error).message
      this.report(d, t, { ok: false, reason })
      const since = this.failing.get(t.id) ?? now
      this.failing.set(t.id, since)
      const long = Date.now() - since
      if (long > this.opts.grace)
        return this.begin(
          d,
          t,
          `node ${t.node.slice(0, 8)} gave no valid storage proof for ${long} ms: ${reason}`
        )
      return
    }
    if (verdict === null) return // the bot has no signed head of the core yet: nothing to ask, nobody to blame
    this.report(d, t, verdict)
    if (verdict.ok) {
      this.failing.delete(t.id)
      return
    }
    return this.begin(
      d,
      t,
      `node ${t.node.slice(0, 8)} failed its storage challenge: ${verdict.reason}`
    )
  }

  private report(d: DeploymentRecord, t: TradeRecord, v: Verdict): void {
    const e: ChallengeEvent = {
      deployment: d.id,
      trade: t.id,
      node: t.node,
      ok: v.ok,
      reason: v.ok ? 'verified' : v.reason
    }
    if (!v.ok)
      this.bot.progress(
        'challenge',
        `${d.id}: node ${t.node.slice(0, 8)} (trade ${t.id}): ${e.reason}`,
        d.id
      )
    this.bot.events.emit('challenge', e)
  }

  /** Keep a copy of `t`'s state core, once its node named one in its signed status. */
  async copyState(d: DeploymentRecord, t: TradeRecord): Promise<void> {
    if (this.bot.manifestOf(d).workloads.find((w) => w.name === t.workload)?.state == null) return
    const named = this.watch(t.node).state(workloadId(t))?.body.stateCore ?? null
    await this.stateCopies
      .track(d, t, named)
      .catch((err) => log.warn('state copy failed', { trade: t.id, err: (err as Error).message }))
  }

  /** Challenge the node of `t` once, now: true when its answer verifies (the demo, tests). */
  async challenge(d: DeploymentRecord, t: TradeRecord): Promise<boolean> {
    const v = await this.challenges.challenge(d, t, CHALLENGE_TIMEOUT)
    return v !== null && v.ok
  }

  /**
   * Begin a heal and go on: the checks of a tick never wait on one. A heal waits on bids (up to attempts × bidWindow)
   * and on the market; a tick that waited would check no other lease meanwhile, start no other heal, copy no state
   * (the soak, seed 2700 on 345be28: an archive shard's heal held the ticks for 130 s while the other shard's node
   * died unseen).
   */
  private begin(d: DeploymentRecord, t: TradeRecord, why: string): void {
    void this.heal(d, t, why)
  }

  /** Replace the lease of trade `t`; one heal per trade at a time. */
  heal(d: DeploymentRecord, t: TradeRecord, why: string): Promise<void> {
    if (!this.opts.heal) return Promise.resolve()
    const running = this.healing.get(t.id)
    if (running) return running
    const p = this.replace(d, t, why)
      .then(() => {
        this.retryAt.delete(t.id)
        this.refusals.delete(t.id) // replaced: its lease is no longer checked
        this.stalls.delete(t.id)
      })
      .catch((err) => {
        this.retryAt.set(t.id, Date.now() + RETRY_HEAL)
        this.bot.progress(
          'heal-failed',
          `${d.id}: replacing trade ${t.id} failed: ${(err as Error).message}`,
          d.id
        )
      })
      .finally(() => this.healing.delete(t.id))
    this.healing.set(t.id, p)
    return p
  }

  private async replace(d: DeploymentRecord, t: TradeRecord, why: string): Promise<void> {
    // kept before anything is said or done: a heal cut short (even right after its first line) is finished by the
    // restarted bot without a new grace
    t.healing = why
    this.bot.state.save()
    this.bot.progress(
      'heal',
      `${d.id}: ${why}: failing trade ${t.id} and buying a replacement`,
      d.id
    )
    try {
      await this.bot.trader.end(d, t.id, 'fail', why)
    } catch (err) {
      // refused for good: nothing to finish (not decided in time, or closing: the next try finishes it)
      if (isScitError(err, 'REJECTED')) delete t.healing
      throw err
    } finally {
      if (t.phase !== 'settled') delete t.healing
      this.bot.state.save()
    }
    await this.buyAgain(d, t, [t.node], why)
  }

  /** One more replica of t's workload, bought, named on the core and settled to the same contract. */
  private async buyAgain(
    d: DeploymentRecord,
    t: TradeRecord,
    avoid: string[],
    why: string
  ): Promise<void> {
    const bot = this.bot
    const m = bot.manifestOf(d)
    const w = m.workloads.find((x) => x.name === t.workload)
    if (!w) return
    if (avoid.length === 0) {
      // a renewal is optional: only while the balance covers the whole next lease at the budget's price
      const need = costFor(w.budget, m.duration)
      const have = await bot.client.balance(bot.key)
      if (have < need)
        return bot.progress(
          'renew-skipped',
          `${d.id}: ${why}, but the balance ${have} is below the ${need} the next lease may cost`,
          d.id
        )
      bot.progress('renew', `${d.id}: ${why}`, d.id)
    }
    // Heals whose nodes must differ (an archive's group, a spread workload's replicas) buy one after the other.
    const turn =
      w.archive !== null
        ? `${w.name}/${groupOf(await bot.writer(d), t) ?? t.id}`
        : m.placement.spread
          ? w.name
          : null
    const buy = async (): Promise<void> => {
      // an archive's holders are distinct within their group only; a spread workload's replicas, and the
      // replacements bought for them, on distinct nodes
      const peers =
        w.archive !== null
          ? groupPeers(await bot.writer(d), d, t)
          : m.placement.spread
            ? d.trades
                .filter(
                  (x) =>
                    x.workload === w.name &&
                    x.id !== t.id &&
                    (x.phase === 'settled' || (x.phase === 'matched' && x.replaces !== null))
                )
                .map((x) => x.node)
            : []
      // what is avoided is looked at again as the bid is placed, and each time it is placed again (trader.ts exclusion)
      const exclude = [...new Set([...avoid, ...peers, ...(await this.avoided())])]
      const body = bidFor(m, w, 1, { expiry: Date.now() + bot.bidWindow, exclude })
      const rec = bot.trader.plan(d, w.name, body, t.id, peers)
      await bot.trader.fill(d, { only: [rec] })
    }
    await (turn === null ? buy() : this.inTurn(`${d.id}/${turn}`, buy))
    await this.nameReplacements(d)
  }

  /**
   * Run `fn` once the one before it with the same `key` has ended. Two heals of one archive group (or of one spread
   * workload) bid one after the other: each bid excludes the nodes of the others, and a bid placed beside another
   * cannot see the node the other is buying (the soak, seed 2700: two heals bid 40 ms apart and both filled on
   * k56tyhx6). Heals of other groups, workloads or deployments still run beside each other.
   */
  private inTurn(key: string, fn: () => Promise<void>): Promise<void> {
    const p = (this.turns.get(key) ?? Promise.resolve()).then(fn, fn)
    this.turns.set(key, p)
    const done = (): void => {
      if (this.turns.get(key) === p) this.turns.delete(key)
    }
    p.then(done, done)
    return p
  }

  /**
   * Nodes where a lease of any of this bot's deployments failed less than `avoidFor` ago: not to buy a replacement
   * from (the soak: a CRM's heal bought the node whose lease of a job had failed 27 s before, after 96 s of silence,
   * as only the job's deployment avoided it; the CRM's lease there failed 1 s later). Not for good: once each node of
   * a small region had a lease fail (3 CH nodes in the soak), nothing there would be left to buy from. By then a node
   * that is back has renewed its offer; the offer of one still gone lapses, or its next lease fails again.
   * Likewise one a heal is leaving right now (its fail not decided yet, so not 'failed'), and one this bot could not
   * reach before a settle (trader.ts reached) less than `grace` ago (unreached).
   * A preference only: a heal's bid that finds nothing else bids on them anyway (trader.ts exclusion).
   */
  async avoided(): Promise<string[]> {
    const avoidFor = this.opts.avoidFor ?? 3 * this.opts.grace
    const trades = this.bot.state.deployments.flatMap((x) => x.trades)
    const out = new Set<string>(this.unreached(trades))
    for (const t of trades) if (t.healing !== undefined && t.phase === 'settled') out.add(t.node)
    const failed = trades.filter((t) => t.phase === 'failed')
    if (failed.length === 0) return [...out]
    const client = this.bot.client
    const now = Math.max(Date.now(), await client.time())
    for (const x of failed) {
      if (out.has(x.node)) continue
      const end = (await client.trade(x.id))?.end ?? null
      if (end === null || now - end < avoidFor) out.add(x.node)
    }
    return [...out]
  }

  /**
   * Nodes this bot could not reach before a settle less than `grace` ago. Shorter than a failed lease's avoidFor: such a
   * node failed no lease (a pause or a cut of some seconds is enough), and each new trade with it is checked again
   * before it is settled, so trying it again after a grace costs one reach timeout and an unsettled close, while
   * keeping it out for 3 × grace held a small region's heals off a node that was back (the soak: 3 CH nodes). The bid
   * that found it unreachable never takes it again (trader.ts reached).
   */
  private unreached(trades: TradeRecord[]): string[] {
    const now = Date.now()
    return trades
      .filter((t) => t.unreached !== undefined && now - t.unreached < this.opts.grace)
      .map((t) => t.node)
  }

  /**
   * Finish every replacement bid in flight (a restart in the middle of a heal, or a heal that gave up waiting): fill,
   * then name and settle (nameReplacements). A heal fills its own bid only (buyAgain), then names and settles.
   */
  async resumeReplacements(d: DeploymentRecord): Promise<void> {
    if (!d.bids.some((b) => b.replaces !== null && inFlight(d, b))) return
    await this.bot.trader.fill(d)
    await this.nameReplacements(d)
  }

  /**
   * The signed scale instruction (or an archive's repair record) naming the new trades and their workload, appended
   * BEFORE settling, so that a node never sees a settled replacement trade whose workload the core does not name yet;
   * then settle. One run at a time per deployment: a restarted `scit bot run` resumes a deployment while its monitor
   * follows the same bids (the trader joins their loops), and both would name and settle the new trades. Trades of
   * bids still followed (their nodes not yet found reachable) wait for their own heal to name and settle them.
   */
  private nameReplacements(d: DeploymentRecord): Promise<void> {
    const run = (): Promise<void> => this.nameAndSettle(d)
    const p = (this.naming.get(d.id) ?? Promise.resolve()).then(run, run)
    this.naming.set(d.id, p)
    const done = (): void => {
      if (this.naming.get(d.id) === p) this.naming.delete(d.id)
    }
    p.then(done, done)
    return p
  }

  private async nameAndSettle(d: DeploymentRecord): Promise<void> {
    const bot = this.bot
    const writer = await bot.writer(d)
    const m = writer.view.current
    const named = new Set([
      ...writer.view.instructions.flatMap((i) => i.trades),
      ...(catalogOf(writer)?.named ?? [])
    ])
    const fresh = d.trades.filter(
      (x) =>
        x.replaces !== null &&
        ((toSettle(x) && !bot.trader.following(x)) || x.phase === 'settled') &&
        !named.has(x.id)
    )
    // an archive's replacement takes the shard of the trade it replaces: a repair record, not a scale
    const repaired = await writeRepairs(writer, fresh)
    for (const x of repaired)
      bot.progress(
        'repair',
        `${d.id}: trade ${x.id} rebuilds the shard trade ${x.replaces ?? ''} held, from the other holders of its group`,
        d.id
      )
    const scaled = fresh.filter((x) => !repaired.includes(x))
    for (const name of new Set(scaled.map((x) => x.workload))) {
      const mine = scaled.filter((x) => x.workload === name)
      const replicas = writer.view.state().replicas[name] ?? 1
      const restore = mine.map((x) => restoreOf(d, x)).filter((r): r is RestoreRef => r !== null)
      for (const r of restore) await this.stateCopies.hold(r.core)
      await writer.appendInstruction({
        action: 'scale',
        manifestHash: m.hash,
        scale: [{ workload: name, replicas }],
        trades: mine.map((x) => x.id),
        reason: `replaces ${mine.map((x) => x.replaces ?? '').join(', ')}`,
        restore
      })
      for (const r of restore)
        bot.progress(
          'restore',
          `${d.id}: trade ${r.trade} starts from snapshot ${r.seq} of trade ${r.from}, signed by node ${shortKey(r.node)}`,
          d.id
        )
    }
    // settled with the contract's own manifest (its header's): a node checks block 0 against it, then follows updates
    await bot.trader.settle(d, writer.key, writer.view.manifestHash)
    // what the market released before it was settled heals nothing: its lease is healed again (unreplaced)
    const settled = fresh.filter((x) => x.phase === 'settled')
    for (const name of new Set(settled.map((x) => x.workload))) {
      const mine = settled.filter((x) => x.workload === name)
      bot.progress(
        'healed',
        `${d.id}: ${name} now also runs on ${mine.map((x) => x.node.slice(0, 8)).join(', ')} (trades ${mine.map((x) => x.id).join(', ')})`,
        d.id
      )
    }
  }
}

/**
 * What a replacement starts from: the last snapshot the bot verified of the
 * replica it replaces, when that one failed (a heal; a renewal's old lease
 * still runs and keeps its own data). A failed replica the bot holds no
 * snapshot of passes on what it was itself restored from: a replacement that
 * died before its first snapshot was copied must not send the next one off
 * with nothing (the soak, seed 2700: a CRM healed 13 times, 8 of them empty).
 */
function restoreOf(d: DeploymentRecord, x: TradeRecord): RestoreRef | null {
  const byId = (id: string | null): TradeRecord | undefined => d.trades.find((t) => t.id === id)
  let old = byId(x.replaces)
  while (old !== undefined && old.phase === 'failed' && old.snapshot == null)
    old = byId(old.replaces)
  const s = old?.snapshot
  if (old === undefined || old.phase !== 'failed' || s == null) return null
  return {
    trade: x.id,
    from: old.id,
    node: decodeKey(old.node, 'node key'),
    core: decodeKey(s.core, 'state core'),
    length: s.length,
    seq: s.seq,
    hash: Buffer.from(s.hash, 'hex')
  }
}
