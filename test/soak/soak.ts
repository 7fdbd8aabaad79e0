/**
 * `npm run soak -- [--seed S] [--minutes M]`: a market of real processes under random faults, its invariants
 * checked all the way (README "The soak"). Exits 0 with no violation and every fault kind covered, else 1.
 *
 *   --seed S        the plan's seed (printed as SCIT_SOAK_SEED=S: rerun with it to replay the schedule)
 *   --minutes M     how long faults are injected (default 2), after the warm-up and before the quiet end
 *   --only N,N…     keep only these faults of the plan (reduce a failing run); --no-steps, --no-arms
 *   --broken NAME   run the indexers on a deliberately broken engine (broken.ts): the soak must fail
 *   --fail-fast     stop at the first violation
 *   --nodes N, --bots N  a smaller (or larger) cast: 6 nodes and 2 bots by default
 *   --dir DIR       where the run lives (default a fresh /tmp/scit-soak-*; removed when it passes, unless --keep)
 *   --json          the report as JSON on stdout
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { execFileSync } from 'child_process'
import { Cluster } from './cluster'
import { Checker, Violation, FinalTrades } from './checker'
import { Injector, sleep } from './injector'
import { Mix } from './mix'
import { CrmUser } from './crm'
import { Contracts, RECOVERY } from './contracts'
import { converge, verifyReplay, leftovers, auditStatus } from './audit'
import {
  plan,
  describeFault,
  FAULT_KINDS,
  CRITICAL,
  minimumPerKind,
  MIN_FAULTS,
  Plan
} from './schedule'
import { buildBroken, Broken, BROKEN } from './broken'
import { summary, Result } from './report'
import safetyCatch from 'safety-catch'

interface Args {
  seed: number
  minutes: number
  only: number[] | null
  steps: boolean
  arms: boolean
  broken: Broken | null
  failFast: boolean
  nodes: number
  bots: number
  dir: string | null
  keep: boolean
  json: boolean
}

function parse(argv: string[]): Args {
  const a: Args = {
    seed: Math.floor(Math.random() * 2 ** 31),
    minutes: 2,
    only: null,
    steps: true,
    arms: true,
    broken: null,
    failFast: false,
    nodes: 6,
    bots: 2,
    dir: null,
    keep: false,
    json: false
  }
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]
    const v = (): string => {
      const x = argv[++i]
      if (x === undefined) throw new Error(`${f} needs a value`)
      return x
    }
    if (f === '--seed') a.seed = Number(v())
    else if (f === '--minutes') a.minutes = Number(v())
    else if (f === '--only') a.only = v().split(',').map(Number)
    else if (f === '--no-steps') a.steps = false
    else if (f === '--no-arms') a.arms = false
    else if (f === '--broken') {
      const b = v()
      if (!(b in BROKEN)) throw new Error(`--broken: one of ${Object.keys(BROKEN).join(', ')}`)
      a.broken = b as Broken
    } else if (f === '--fail-fast') a.failFast = true
    else if (f === '--nodes') a.nodes = Number(v())
    else if (f === '--bots') a.bots = Number(v())
    else if (f === '--dir') a.dir = v()
    else if (f === '--keep') a.keep = true
    else if (f === '--json') a.json = true
    else throw new Error(`unknown option ${f}; see the top of test/soak/soak.ts`)
  }
  if (!Number.isSafeInteger(a.seed) || !(a.minutes > 0))
    throw new Error('--seed is a whole number, --minutes a positive number')
  if (!(a.nodes >= 2 && a.nodes <= 20) || !(a.bots >= 1 && a.bots <= 4))
    throw new Error('--nodes is 2 to 20, --bots 1 to 4')
  return a
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: __dirname,
      encoding: 'utf8'
    }).trim()
  } catch {
    return 'unknown'
  }
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2))
  const t00 = Date.now()
  const log = (line: string): void => {
    process.stderr.write(`[${((Date.now() - t00) / 1000).toFixed(1).padStart(6)}s] ${line}\n`)
  }
  process.stderr.write(
    `SCIT_SOAK_SEED=${args.seed} commit=${commit()} minutes=${args.minutes}${args.broken !== null ? ` broken=${args.broken}` : ''}\n`
  )
  const dir = args.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'scit-soak-'))
  fs.mkdirSync(dir, { recursive: true })
  fs.chmodSync(dir, 0o755) // the sandbox user traverses it to the nodes' work dirs
  const brokenDist = args.broken !== null ? buildBroken(args.broken, dir) : null
  const cluster = new Cluster({ dir, brokenDist, say: log, nodes: args.nodes, bots: args.bots })
  const p: Plan = plan(args.seed, args.minutes * 60_000, cluster.cast)
  if (args.only !== null) p.faults = p.faults.filter((f) => args.only?.includes(f.n))
  if (!args.steps) p.steps = []
  if (!args.arms) p.arms = []
  process.stderr.write(
    `plan: ${p.faults.length} faults over ${args.minutes} min, ${p.steps.length} bot steps, ${p.arms.length} armed kills (run in ${dir})\n`
  )
  for (const f of p.faults) process.stderr.write(`  ${describeFault(f)}\n`)
  for (const s of p.steps)
    process.stderr.write(
      `  step +${(s.at / 1000).toFixed(1)}s ${s.bot} ${s.action} ${s.what}${s.arm ? ` (kill ${s.arm})` : ''}\n`
    )
  for (const a of p.arms)
    process.stderr.write(
      `  arm  +${(a.at / 1000).toFixed(1)}s kill the next ${a.step}, down ${(a.down / 1000).toFixed(1)}s\n`
    )

  const violations: Violation[] = []
  let abort: (err: Error) => void = () => {}
  const aborted = new Promise<never>((_resolve, reject) => {
    abort = reject
  })
  aborted.catch(safetyCatch)
  const report = (invariant: string, message: string): void => {
    violations.push({ at: Date.now() - t00, invariant, message })
    log(`VIOLATION ${invariant}: ${message} (SCIT_SOAK_SEED=${args.seed})`)
    if (args.failFast) abort(new Error('stopped at the first violation (--fail-fast)'))
  }
  const result: Result = {
    seed: args.seed,
    minutes: args.minutes,
    dir,
    broken: args.broken,
    violations,
    phases: {}
  }
  const phase = (name: string, from: number): void => {
    result.phases[name] = Date.now() - from
  }
  const checker = new Checker(cluster, report)
  const injector = new Injector(cluster, log, report)
  // Each kind must fire this often (else the run is vacuous): until it has, a fault waits for a busy target.
  const min = Math.min(minimumPerKind(args.minutes * 60_000), 1 + Math.floor(p.faults.length / 20))
  // And at least MIN_FAULTS in all (the issue's short soak: 40 or more), skipped ones not counted.
  const total = Math.min(MIN_FAULTS, p.faults.length)
  if (args.only === null) {
    injector.minimum = min
    injector.total = total
  }
  const contracts = new Contracts(cluster, injector, checker, report)
  const users: CrmUser[] = []
  const timers: NodeJS.Timeout[] = []
  let failed: Error | null = null
  let finalTrades: FinalTrades | null = null
  const mix = new Mix(cluster, injector, log)
  const run = async (): Promise<void> => {
    let t = Date.now()
    await cluster.up()
    await checker.open()
    phase('up', t)
    t = Date.now()
    await mix.warmup()
    await cluster.proc('trader').start()
    for (const bot of cluster.cast.bots)
      users.push(new CrmUser(cluster, injector, checker, bot, report))
    for (const u of users) u.start()
    phase('warmup', t)
    let checking = false
    timers.push(
      setInterval(() => {
        injector.refreshCuts()
        if (checking) return
        checking = true
        contracts
          .check()
          .catch((err: Error) => log(`contract check failed to run: ${err.message}`))
          .finally(() => (checking = false))
      }, 5000)
    )
    injector.supervise()
    log(`faults begin: ${p.faults.length} over ${args.minutes} min`)
    t = Date.now()
    await Promise.all([injector.run(t, p.faults, p.arms), mix.run(t, p.steps)])
    injector.stop()
    phase('faults', t)
    log('faults over: every process up, the trader stops, the peers must converge')
    t = Date.now()
    await cluster.proc('trader').term()
    for (const name of [...cluster.cast.indexers, ...cluster.cast.nodes, ...cluster.cast.bots])
      await injector.restart(cluster.proc(name))
    result.converged = await converge(cluster, checker, report)
    // every running deployment whole again within grace + 60 s
    const until = Date.now() + RECOVERY
    while ((await contracts.check()).length > 0 && Date.now() < until) await sleep(5000)
    const short = await contracts.check()
    if (short.length > 0)
      report(
        'recovery',
        `${short.length} workloads still short of replicas ${RECOVERY / 1000} s after the faults ended: ${short.join(', ')}`
      )
    for (const u of users) await u.stop()
    await checker.settled()
    result.verify = await verifyReplay(cluster, report)
    finalTrades = await checker.trades()
    phase('quiet', t)
  }
  try {
    await Promise.race([run(), aborted])
  } catch (err) {
    if (!args.failFast || violations.length === 0) {
      failed = err as Error
      report('soak', `the soak itself failed: ${(err as Error).stack ?? String(err)}`)
    }
  } finally {
    injector.stop()
    mix.stop()
    for (const timer of timers) clearInterval(timer)
    for (const u of users) await u.stop().catch(safetyCatch)
    const t = Date.now()
    await cluster.down()
    result.exits = [...cluster.procs.values()].filter((x) => x.starts > 0).length
    await checker.close().catch(safetyCatch)
    await sleep(2000)
    result.leftovers = leftovers(dir)
    for (const l of result.leftovers) report('leftover', l)
    if (finalTrades !== null)
      result.statusRecords = await auditStatus(cluster, finalTrades, report).catch((err: Error) => {
        report('status', `the status audit failed: ${err.message}`)
        return 0
      })
    phase('down', t)
  }
  const vacuous: string[] = []
  if (args.only === null) {
    if (injector.firedInAll() < total)
      vacuous.push(`${injector.firedInAll()} faults fired (at least ${total})`)
    for (const k of FAULT_KINDS)
      if ((injector.fired[k] ?? 0) < min)
        vacuous.push(`${k} fired ${injector.fired[k] ?? 0} times (at least ${min})`)
    if (args.steps && args.arms)
      for (const c of CRITICAL)
        if (injector.landed[c] < 1) vacuous.push(`no kill landed inside ${c}`)
  }
  Object.assign(result, {
    fired: injector.fired,
    skipped: injector.skipped,
    landed: injector.landed,
    damages: injector.damages,
    checks: { ...checker.counts, ...contracts.counts },
    slowestRecovery: contracts.slowest,
    crm: users.map((u) => ({
      bot: u.bot,
      writes: u.writes,
      acked: u.acked.length,
      reads: u.reads,
      lost: u.lost,
      destroyed: u.destroyed,
      worstLoss: u.worstLoss
    })),
    vacuous,
    total: Date.now() - t00
  })
  fs.writeFileSync(path.join(dir, 'report.json'), JSON.stringify(result, null, 2))
  if (args.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  process.stderr.write(summary(result))
  const ok = violations.length === 0 && vacuous.length === 0 && failed === null
  if (ok && !args.keep && args.dir === null) fs.rmSync(dir, { recursive: true, force: true })
  return ok ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`soak: ${err.message}\n`)
    process.exit(2)
  }
)
