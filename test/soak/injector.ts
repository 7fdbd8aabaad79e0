/**
 * Carries out the plan's faults on the cluster's processes, and keeps what each process went through: when it
 * was down, paused or cut, from whom. The recovery checks read that back (Injector.outages, healthy).
 */
import fs from 'fs'
import path from 'path'
import type { Cluster } from './cluster'
import type { Fault, FaultKind, Arm } from './schedule'
import { describeFault } from './schedule'
import type { Proc } from './procs'
import { damageStore, wipeStore } from './damage'
import { GRACE } from './cluster'
import type { Report } from './checker'
import safetyCatch from 'safety-catch'

/** A stretch of time a process was not fully there for (some of) its peers. */
export interface Outage {
  name: string
  kind: FaultKind | 'heal-kill' | 'snapshot-kill' | 'step-kill' | 'bot-command'
  from: number
  to: number | null
  /** Cut from these only (a partition); absent: from everyone. */
  peers?: string[]
}

export interface StoreDamage {
  node: string
  file: string
  how: string
  /** The node's first start after it: refused with a clear error, or started. */
  outcome: 'refused' | 'started' | 'served-damaged' | 'internal-error' | 'hung' | 'pending'
  said: string
  /** Refused at a later start (RocksDB read the damaged file later), not the one right after the damage. */
  late?: boolean
  /** Its store was moved aside: a later refusal is not this damage's. */
  wiped?: boolean
}

/** How often, from the first heal arm on, the soak looks whether it must make a heal itself (provokeHeals). */
const PROVOKE_AFTER = 3000
const PROVOKES = 3

/** What a bot's state.json says of its deployments (the part the soak reads). */
function botDeployments(
  data: string
): Array<{ id: string; phase: string; trades: Array<{ node: string; phase: string }> }> {
  try {
    return JSON.parse(fs.readFileSync(path.join(data, 'bot', 'state.json'), 'utf8')).deployments
  } catch {
    return [] // not written yet, or being replaced as it is read: the next arm looks again
  }
}

/** A start that takes longer hangs: with the machine loaded, a node's start took up to ~60 s. */
const START_BOUND = 240_000
const TICK = 1000

export class Injector {
  readonly outages: Outage[] = []
  readonly fired: Record<string, number> = {}
  readonly landed: Record<string, number> = {
    'bid-settle': 0,
    'settle-deploy': 0,
    heal: 0,
    snapshot: 0
  }
  readonly damages: StoreDamage[] = []
  /**
   * Faults not run as their target was still stopped or restarting from an earlier one (a restart can take a
   * minute; queued behind it, a 30-minute plan ran 31 min late), by kind; a kind that has not fired `minimum` times
   * yet, or any fault while fewer than `total` have fired, waits instead, so the run's coverage holds.
   */
  readonly skipped: Record<string, number> = {}
  minimum = 0
  total = 0
  /** Per process, the faults or restarts holding it now (see `locked`). */
  private readonly holding = new Map<string, number>()
  /** Which processes each process is cut from (a name, or '*'). */
  private readonly cuts = new Map<string, Map<string, number>>()
  private readonly running = new Set<Promise<void>>()
  private readonly locks = new Map<string, Promise<void>>()
  /** Processes an armed kill is on: another arm waits for the next event. */
  private readonly arming = new Set<string>()
  private stopped = false
  private provoking = false
  private readonly unwatch: Array<() => void> = []

  constructor(
    private readonly cluster: Cluster,
    private readonly say: (line: string) => void,
    private readonly report: Report
  ) {}

  now(): number {
    return Date.now()
  }

  /** Run `faults` (times from `t0`) and `arms`; resolves when every fault is over. */
  async run(t0: number, faults: Fault[], arms: Arm[]): Promise<void> {
    for (const a of arms) {
      const timer = setTimeout(() => this.arm(a), Math.max(0, t0 + a.at - Date.now()))
      this.unwatch.push(() => clearTimeout(timer))
    }
    for (const f of faults) {
      const wait = t0 + f.at - Date.now()
      if (wait > 0) await sleep(wait)
      if (this.stopped) break
      const p = this.fire(f).catch((err: Error) =>
        this.say(`fault #${f.n} failed to run: ${err.message}`)
      )
      this.running.add(p)
      void p.finally(() => this.running.delete(p))
    }
    while (this.running.size > 0) await Promise.all([...this.running])
  }

  /**
   * A long-lived process that dies on its own is restarted, as its service manager would, and is a violation
   * (with its last lines), unless it is a node refusing a store the soak damaged (RocksDB found it late).
   */
  supervise(): void {
    const { indexers, nodes, bots, others } = this.cluster.cast
    for (const name of [...indexers, ...nodes, ...bots, ...others]) {
      const p = this.cluster.proc(name)
      const onCrash = (e: { code: number | null; signal: string | null }): void => {
        if (this.stopped) return
        const said = p.tail.find((l) => /^error [A-Z_]+: /.test(l)) ?? p.tail.slice(-1)[0] ?? ''
        this.say(`${name} exited on its own (${e.code ?? e.signal ?? ''}): ${said}`)
        const damaged = this.damages.some((d) => d.node === name && !d.wiped)
        if (nodes.includes(name) && damaged && said.startsWith('error CORRUPT: '))
          this.storeRefused(name, said)
        else
          this.report(
            'crash',
            `${name} exited on its own (${e.code ?? e.signal ?? ''}): ${p.tail.slice(-3).join(' | ')}`
          )
        const o = this.outage({ name, kind: 'kill', from: Date.now() })
        void this.locked(name, async () => {
          await sleep(2000)
          await this.restart(p)
          o.to = Date.now()
        }).catch(safetyCatch)
      }
      p.on('crash', onCrash)
      this.unwatch.push(() => p.off('crash', onCrash))
    }
  }

  stop(): void {
    this.stopped = true
    for (const u of this.unwatch.splice(0)) u()
  }

  private count(kind: string): void {
    this.fired[kind] = (this.fired[kind] ?? 0) + 1
  }

  outage(o: Omit<Outage, 'to'>): Outage {
    const out = { ...o, to: null }
    this.outages.push(out)
    return out
  }

  /**
   * Faults that stop or restart a process wait for the one before on it (a restart can outlast the plan's gap) if
   * their kind still lacks coverage; else they are skipped, and counted as such.
   */
  private fire(f: Fault): Promise<void> {
    if (f.kind === 'cut' || f.kind === 'partition') return this.fireNow(f)
    if (
      (this.holding.get(f.target) ?? 0) > 0 &&
      (this.fired[f.kind] ?? 0) >= this.minimum &&
      this.firedInAll() >= this.total
    ) {
      this.skipped[f.kind] = (this.skipped[f.kind] ?? 0) + 1
      this.say(`fault ${describeFault(f)}: skipped, ${f.target} is still stopped or restarting`)
      return Promise.resolve()
    }
    return this.locked(f.target, () => this.fireNow(f))
  }

  firedInAll(): number {
    return Object.values(this.fired).reduce((a, b) => a + b, 0)
  }

  private hold(name: string, delta: number): void {
    this.holding.set(name, (this.holding.get(name) ?? 0) + delta)
  }

  private async fireNow(f: Fault): Promise<void> {
    const p = this.cluster.proc(f.target)
    this.say(`fault ${describeFault(f)}`)
    p.write(`--- fault ${describeFault(f)}`)
    this.count(f.kind)
    if (f.kind === 'kill') {
      const o = this.outage({ name: f.target, kind: 'kill', from: Date.now() })
      await p.kill9()
      await sleep(f.length)
      await this.restart(p)
      o.to = Date.now()
    } else if (f.kind === 'pause') {
      if (!p.alive) return
      const o = this.outage({ name: f.target, kind: 'pause', from: Date.now() })
      p.pause()
      await sleep(f.length)
      p.resume()
      o.to = Date.now()
    } else if (f.kind === 'cut' || f.kind === 'partition') {
      const peers = f.kind === 'cut' ? ['*'] : (f.peers ?? [])
      const o = this.outage({
        name: f.target,
        kind: f.kind,
        from: Date.now(),
        ...(f.kind === 'partition' ? { peers } : {})
      })
      this.setCut(f.target, peers, +1)
      await sleep(f.length)
      this.setCut(f.target, peers, -1)
      o.to = Date.now()
    } else if (f.kind === 'damage') {
      const o = this.outage({ name: f.target, kind: 'damage', from: Date.now() })
      await p.kill9()
      const d: StoreDamage = {
        node: f.target,
        ...damageStore(this.cluster.data(f.target), f.damage ?? 'flip', f.n),
        outcome: 'pending',
        said: ''
      }
      this.damages.push(d)
      await sleep(f.length)
      await this.restartDamaged(p, d)
      o.to = Date.now()
    } else {
      // A clean restart with the clock moved, and back after `length`; other faults may hit it meanwhile. Only
      // Date moves (test/soak/skew.ts), not the kernel's clock: a store must not be made anew meanwhile, as the
      // file times would disagree with the process's clock as they never do on a real machine (device-file).
      // Each restart is an outage while the process is down: soak30 seed 2700 on 2db97ea judged a CRM short while
      // its nodes were restarting so, as if they could take it.
      if (!fs.existsSync(path.join(this.cluster.data(f.target), 'corestore', 'CORESTORE'))) return
      const restartWith = async (env: Record<string, string>): Promise<void> => {
        const o = this.outage({ name: f.target, kind: 'clock', from: Date.now() })
        await p.term()
        p.nextEnv = env
        await this.restart(p)
        o.to = Date.now()
      }
      await restartWith({ SCIT_SOAK_SKEW: String(f.skew ?? 0) })
      const back = sleep(f.length).then(() => this.locked(f.target, () => restartWith({})))
      this.running.add(back)
      void back.finally(() => this.running.delete(back))
    }
  }

  /** Run `fn` when the faults before on `name` are over, holding the faults after it. */
  locked(name: string, fn: () => Promise<void>): Promise<void> {
    const prev = this.locks.get(name) ?? Promise.resolve()
    this.hold(name, +1)
    const next = prev
      .then(() => (this.stopped ? undefined : fn()))
      .finally(() => this.hold(name, -1))
    this.locks.set(name, next.catch(safetyCatch))
    return next
  }

  /**
   * Start it again until it is up (a node re-priced); a failure to start is retried, and said. A node that
   * refuses its store as damaged (error CORRUPT), at whichever restart RocksDB found it, gets a fresh store (its
   * identity kept), as its farmer would: a damage the soak did is found late (a flipped table only when a
   * compaction reads it); one it did not do is a violation.
   */
  async restart(p: Proc): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (p.alive) return
      const node = this.cluster.cast.nodes.includes(p.name)
      if (node) p.spec.argv = this.cluster.nodeSpec(p.name, p.starts).argv
      try {
        await this.started(p)
        return
      } catch (err) {
        this.say(`${p.name} did not start (attempt ${attempt}): ${(err as Error).message}`)
        const corrupt = p.tail.find((l) => l.startsWith('error CORRUPT: '))
        if (node && corrupt !== undefined && (await p.exited()).signal === null) {
          this.storeRefused(p.name, corrupt)
          attempt = 0
          continue
        }
        // hung on a store the soak damaged (reported): its farmer moves the store aside too
        const damaged = this.damages.some((d) => d.node === p.name && !d.wiped)
        if (node && damaged && /hung in its start/.test((err as Error).message)) {
          this.storeRefused(p.name, 'hung in its start')
          attempt = 0
          continue
        }
        if (attempt >= 5) {
          this.report('restart', `${p.name} did not start in 5 attempts: ${(err as Error).message}`)
          return
        }
        await sleep(2000 * attempt)
      }
    }
  }

  /**
   * p.start(), bounded: a process that neither gets ready nor exits within START_BOUND of the time it could reach
   * the market (`reaches`: not while cut off from it, as the seed's cuts of a starting node may last 4 min) hangs (a
   * violation: it should wait saying so, or refuse); it is killed, and the start fails.
   */
  private async started(p: Proc): Promise<void> {
    const start = p.start()
    const from = Date.now()
    let timer: NodeJS.Timeout | null = null
    let counted = 0
    const hung = new Promise<'hung'>((resolve) => {
      const tick = (): void => {
        if (this.reaches(p.name, Date.now())) counted += TICK
        if (counted > START_BOUND) resolve('hung')
        else timer = setTimeout(tick, TICK)
      }
      timer = setTimeout(tick, TICK)
    })
    const r = await Promise.race([start, hung]).finally(() => {
      if (timer !== null) clearTimeout(timer)
    })
    if (r !== 'hung') return
    start.catch(safetyCatch)
    this.report(
      'restart',
      `${p.name} was not ready ${START_BOUND / 1000} s after its start (of ${((Date.now() - from) / 1000).toFixed(0)} s, the rest cut off from the market): ${p.tail.slice(-3).join(' | ')}`
    )
    await p.kill9()
    throw new Error(`${p.name} hung in its start: killed`)
  }

  /** A node refused its store at a later start than the one after its damage: a fresh store, as after it. */
  private storeRefused(name: string, said: string): void {
    const d = this.damages.find((x) => x.node === name && !x.wiped)
    if (d === undefined)
      this.report('damaged-store', `${name} refused a store the soak never damaged: ${said}`)
    else {
      d.outcome = said.startsWith('error ') ? 'refused' : 'hung'
      d.said = said
      d.late = true
      d.wiped = true
    }
    this.say(`${name}: store refused (${said.slice(0, 100)}): moved aside, started on a fresh one`)
    wipeStore(this.cluster.data(name))
    this.cluster.proc(name).nextEnv = {}
  }

  /**
   * A node that started on a damaged store must serve its cores whole from then on: a block or tree node its
   * store lost (what RocksDB dropped at the open) kills every connection that asks for it (hypercore: "Expected
   * tree node N from storage, got (nil)"), so its peers never copy its state. Reported once, until it is wiped.
   */
  private servesWhole(p: Proc, d: StoreDamage): void {
    const unwatch = p.watch((line) => {
      if (d.wiped === true) return unwatch()
      if (!/from storage, got \(nil\)/.test(line)) return
      unwatch()
      d.outcome = 'served-damaged'
      this.report(
        'damaged-store',
        `${p.name} started on a damaged store (${d.how} ${d.file}) and could not serve its cores from it: ${line.trim()}`
      )
    })
  }

  /**
   * A node on a damaged store must refuse with a clear error (error CODE: …, not INTERNAL) or start; a refused
   * one is started on a fresh store (its identity kept), as its farmer would. A start that failed for another
   * reason (the market slow to answer) is tried again on the same store.
   */
  private async restartDamaged(p: Proc, d: StoreDamage): Promise<void> {
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await this.started(p)
        d.outcome = 'started'
        this.servesWhole(p, d)
        return
      } catch (err) {
        if (/hung in its start/.test((err as Error).message)) {
          d.outcome = 'hung'
          break
        }
        // killed meanwhile (an armed kill does not wait for this fault): that says nothing about the store
        if ((await p.exited()).signal !== null) continue
        const said = p.tail.find((l) => /^error [A-Z_]+: /.test(l)) ?? p.tail.slice(-1)[0] ?? ''
        d.said = said
        if (/^error (TIMEOUT|SANDBOX): /.test(said)) continue
        d.outcome =
          /^error [A-Z_]+: /.test(said) && !said.startsWith('error INTERNAL')
            ? 'refused'
            : 'internal-error'
        if (d.outcome === 'internal-error')
          this.report(
            'damaged-store',
            `${p.name} on a damaged store (${d.how} ${d.file}) failed without a clear error: ${said}`
          )
        break
      }
    }
    d.wiped = true
    wipeStore(this.cluster.data(p.name))
    // A store made anew under a skewed Date would carry a creation time its files' times contradict (device-file
    // then refuses it for good): only the soak's skew does that, a real clock moves the file times too.
    p.nextEnv = {}
    await this.restart(p)
  }

  /** Add (+1) or remove (-1) a cut of `name` from `peers` ('*': everyone), both ways, and tell the processes. */
  setCut(name: string, peers: string[], delta: number): void {
    const touched = new Set([name])
    const bump = (a: string, b: string): void => {
      const m = this.cuts.get(a) ?? new Map<string, number>()
      m.set(b, (m.get(b) ?? 0) + delta)
      if ((m.get(b) ?? 0) <= 0) m.delete(b)
      this.cuts.set(a, m)
      touched.add(a)
    }
    for (const peer of peers) {
      bump(name, peer)
      if (peer !== '*') bump(peer, name)
    }
    for (const t of touched) this.writeCut(t)
  }

  private writeCut(name: string): void {
    const file = path.join(this.cluster.dir, 'faults', name + '.cut.json')
    const m = this.cuts.get(name) ?? new Map<string, number>()
    if (m.size === 0) {
      fs.rmSync(file, { force: true })
      return
    }
    const keys = [...m.keys()].filter((k) => k !== '*').flatMap((peer) => this.keysOf(peer))
    fs.writeFileSync(file + '.tmp', JSON.stringify(m.has('*') ? { all: true } : { keys }))
    fs.renameSync(file + '.tmp', file)
  }

  /** The keys a process connects with, as its probe says (a restarted process has new ones: they are re-read). */
  private keysOf(name: string): string[] {
    try {
      const probe = JSON.parse(
        fs.readFileSync(path.join(this.cluster.dir, 'faults', name + '.probe.json'), 'utf8')
      ) as { keys?: string[] }
      return probe.keys ?? []
    } catch {
      return []
    }
  }

  /** Refresh every partition's keys (a peer restarted since it was cut has a new swarm key). */
  refreshCuts(): void {
    for (const name of this.cuts.keys()) this.writeCut(name)
  }

  /** Kill the next bot heal or node snapshot after `a.at`, once. */
  private arm(a: Arm): void {
    if (a.step === 'heal' && !this.provoking) {
      this.provoking = true
      const p = this.provokeHeals()
      this.running.add(p)
      void p.finally(() => this.running.delete(p))
    }
    const names = a.step === 'heal' ? this.cluster.cast.bots : this.cluster.cast.nodes
    const trigger = a.step === 'heal' ? /^\S+ heal / : /snapshot writing/
    const done = /^\S+ healed |debug node\/state: snapshot id=/
    let fired = false
    const offs: Array<() => void> = []
    const off = (): void => {
      for (const u of offs.splice(0)) u()
    }
    this.unwatch.push(off)
    for (const name of names) {
      const p = this.cluster.proc(name)
      offs.push(
        p.watch((line) => {
          if (fired || !trigger.test(line) || !p.alive || p.state !== 'up' || this.arming.has(name))
            return
          fired = true
          this.arming.add(name)
          off()
          let finished = false
          const unwatch = p.watch((l) => {
            if (done.test(l)) finished = true
          })
          this.say(`armed kill: ${name} during a ${a.step} (${line.slice(0, 80)})`)
          this.count(`${a.step}-kill`)
          const o = this.outage({
            name,
            kind: a.step === 'heal' ? 'heal-kill' : 'snapshot-kill',
            from: Date.now()
          })
          const killed = p.kill9().then((e) => {
            unwatch()
            if (!finished && e.signal === 'SIGKILL') this.landed[a.step]++
          })
          const prev = this.locks.get(name) ?? Promise.resolve()
          this.hold(name, +1)
          const run = Promise.all([prev, killed])
            .then(async () => {
              await sleep(a.down)
              await this.restart(p)
              o.to = Date.now()
              this.arming.delete(name)
            })
            .finally(() => this.hold(name, -1))
          this.locks.set(name, run.catch(safetyCatch))
          this.running.add(run)
          void run.finally(() => this.running.delete(run))
        })
      )
    }
  }

  /**
   * A heal needs a replica's node gone past the grace period, which the seed's faults give only when the market
   * put a replica on a node they hit and its bot ran all along (on a quiet machine restarts are quicker, too).
   * From the first heal arm on, while no heal landed: the host of a running replica is cut from every peer for
   * grace + 40 s, up to PROVOKES times.
   */
  private async provokeHeals(): Promise<void> {
    for (let tries = 0; tries < PROVOKES;) {
      await sleep(PROVOKE_AFTER)
      if (this.stopped || this.landed.heal > 0) return
      const cut = this.provokeHeal()
      if (cut === null) continue
      tries++
      await cut
    }
  }

  /** Cut the node of a running replica of the bot up longest, if any is healthy now. */
  private provokeHeal(): Promise<void> | null {
    const { bots, nodes } = this.cluster.cast
    const up = bots
      .map((bot) => ({ bot, since: this.healthySince(bot) }))
      .filter((b): b is { bot: string; since: number } => b.since !== null)
      .sort((x, y) => x.since - y.since)
    for (const { bot } of up) {
      for (const d of botDeployments(this.cluster.data(bot))) {
        if (d.phase !== 'running') continue
        for (const t of d.trades) {
          const node = nodes.find((n) => this.cluster.keys.get(n) === t.node)
          if (t.phase !== 'settled' || node === undefined || !this.healthy(node)) continue
          const f: Fault = { n: 0, at: 0, kind: 'cut', target: node, length: GRACE + 40_000 }
          this.say(`no heal yet: cutting ${node}, which runs ${bot}'s ${d.id}, to make one`)
          return this.fire(f).catch(safetyCatch)
        }
      }
    }
    return null
  }

  /** Is `name` up and reachable by `peer` (or everyone) at `at`? `kinds`: judged by those outages only. */
  healthy(
    name: string,
    at = Date.now(),
    peer: string | null = null,
    kinds: Outage['kind'][] | null = null
  ): boolean {
    return !this.outages.some(
      (o) =>
        o.name === name &&
        (kinds === null || kinds.includes(o.kind)) &&
        o.from <= at &&
        (o.to === null || o.to > at) &&
        (o.peers === undefined || (peer !== null && o.peers.includes(peer)))
    )
  }

  /**
   * The start of the latest outage of `name` that `peer` felt, begun after `after` and by `at` (null: none): what
   * stopped a replica bought at `after` again, the fault a recovery is then judged from.
   */
  stoppedAfter(name: string, after: number, peer: string, at = Date.now()): number | null {
    let latest: number | null = null
    for (const o of this.outages)
      if (
        o.name === name &&
        o.from > after &&
        o.from <= at &&
        (o.peers === undefined || o.peers.includes(peer)) &&
        (latest === null || o.from > latest)
      )
        latest = o.from
    return latest
  }

  /** Since when `name` has been healthy (null: not now). */
  healthySince(name: string, peer: string | null = null): number | null {
    const now = Date.now()
    if (!this.healthy(name, now, peer)) return null
    let since = 0
    for (const o of this.outages)
      if (
        o.name === name &&
        o.to !== null &&
        o.to > since &&
        (o.peers === undefined || (peer !== null && o.peers.includes(peer)))
      )
        since = o.to
    return since
  }

  /**
   * ms of [from, to) during which `bot` could get no op decided: it was down, or no indexer it reached had another
   * indexer to make a quorum with (overlapping partitions can cut a bot off while every indexer is up).
   */
  stalled(bot: string, from: number, to: number): number {
    return lost(from, to, (t) => this.healthy(bot, t) && this.reaches(bot, t))
  }

  /**
   * ms of [from, to) during which `bot` could not have healed onto any of `nodes`: it was stalled, or each of them was
   * down, paused, cut from it, or reached no quorum of indexers (its offer and a settle with it undecidable).
   */
  unhealable(bot: string, nodes: (at: number) => string[], from: number, to: number): number {
    return lost(
      from,
      to,
      (t) =>
        this.healthy(bot, t) &&
        this.reaches(bot, t) &&
        nodes(t).some((n) => this.healthy(n, t, bot) && this.reaches(n, t))
    )
  }

  /**
   * Whether `name`, if it runs, can get an op decided at `at`: not paused, and it reaches an indexer that reaches
   * another (its own kills and restarts aside: a process starting again is judged by this).
   */
  reaches(name: string, at: number): boolean {
    const idx = this.cluster.cast.indexers
    const linked = (a: string, b: string): boolean =>
      this.healthy(a, at, b, NETWORK) && this.healthy(b, at, a, NETWORK)
    return (
      this.healthy(name, at, null, ['pause', ...NETWORK]) &&
      idx.some(
        (i) =>
          this.healthy(i, at) &&
          linked(name, i) &&
          idx.some((j) => j !== i && this.healthy(j, at) && linked(i, j))
      )
    )
  }
}

/** ms of [from, to), by TICK, at which `ok` does not hold. */
function lost(from: number, to: number, ok: (t: number) => boolean): number {
  let ms = 0
  for (let t = from; t < to; t += TICK) if (!ok(t)) ms += TICK
  return ms
}

/** The outages of a link, not of a process. */
const NETWORK: Outage['kind'][] = ['cut', 'partition']

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
