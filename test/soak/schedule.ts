/**
 * The soak's plan, a pure function of (seed, minutes, the cluster's names): which fault hits which process when
 * and for how long, what the bots deploy meanwhile, and where kills are armed inside critical steps. Printed at the
 * start, so a failing run is replayed with its seed (and reduced by hand to the faults that matter: --only).
 */
import { Random } from './random'

export const FAULT_KINDS = ['kill', 'pause', 'cut', 'partition', 'damage', 'clock'] as const
export type FaultKind = (typeof FAULT_KINDS)[number]

export interface Fault {
  /** Its number in the plan (--only keeps some). */
  n: number
  /** ms after the faults begin. */
  at: number
  kind: FaultKind
  target: string
  /** ms: a kill's or damage's down time, a pause, a cut, a skew's duration. */
  length: number
  /** partition: the processes cut from the target. */
  peers?: string[]
  /** clock: ms ahead (positive) or behind. */
  skew?: number
  /** damage: what is done to one file of the stopped node's store. */
  damage?: 'flip' | 'truncate'
  /** Part of a window where two indexers are faulted at once (the market cannot make ops final). */
  quorumLoss?: boolean
}

export const CRITICAL = ['bid-settle', 'settle-deploy', 'heal', 'snapshot'] as const
export type Critical = (typeof CRITICAL)[number]

/** What a bot does meanwhile (bot/…: one CLI command each, with `scit bot run` stopped around it). */
export interface Step {
  at: number
  bot: string
  action: 'deploy' | 'update' | 'stop'
  what: 'crm' | 'job' | 'archive' | 'banking'
  /** Kill the command inside this step (bid-settle, settle-deploy). */
  arm?: Critical
}

/** A kill armed at `at`: it lands on the next heal of a bot, or the next snapshot a node writes. */
export interface Arm {
  at: number
  step: 'heal' | 'snapshot'
  /** ms the killed process stays down. */
  down: number
}

export interface Plan {
  seed: number
  /** ms of faults. */
  window: number
  faults: Fault[]
  steps: Step[]
  arms: Arm[]
}

export interface Cast {
  indexers: string[]
  nodes: string[]
  bots: string[]
  others: string[]
}

const WEIGHTS: Record<FaultKind, number> = {
  kill: 30,
  pause: 22,
  cut: 18,
  partition: 12,
  damage: 8,
  clock: 10
}

/** Faults a run fires in all, at least (the short soak's 40): those skipped for a busy target do not count. */
export const MIN_FAULTS = 40

/** Every kind at least this often, whatever the draw (the run is vacuous otherwise). */
export function minimumPerKind(window: number): number {
  return Math.max(3, Math.floor(window / 60_000) * 2)
}

export function plan(seed: number, window: number, cast: Cast): Plan {
  const r = new Random(seed)
  // A fault every 2 s or so, some waiting for a free target: a short soak of 2 minutes has 40 or more.
  const total = Math.max(60, Math.round(window / 2000))
  const kinds = drawKinds(r.fork('kinds'), total, minimumPerKind(window))
  const busy = new Map<string, number>() // process → ms when its last fault is over
  const faults: Fault[] = []
  const t = r.fork('times')
  const pick = r.fork('targets')
  let at = 2000
  let n = 0
  // One quorum-loss window near the middle: two indexers cut together.
  const loss = Math.round(window * (0.35 + t.next() * 0.2))
  let lossDone = false
  const queue = [...kinds]
  while (queue.length > 0) {
    at += t.gap(window / total)
    if (!lossDone && at >= loss) {
      lossDone = true
      const length = Math.min(t.int(10_000, 25_000), window - at - 1000)
      const [a, b] = shuffle(pick, cast.indexers).slice(0, 2)
      if (length >= 5000 && [a, b].every((x) => free(busy, x, at))) {
        for (const target of [a, b]) {
          faults.push({ n: ++n, at: Math.round(at), kind: 'cut', target, length, quorumLoss: true })
          busy.set(target, at + length + 1000)
        }
      }
    }
    if (at > window - 5000) break
    const kind = queue[0]
    const f = draw(pick, kind, at, window, cast, busy)
    if (f === null) continue // this kind waits for the next slot
    queue.shift()
    f.n = ++n
    faults.push(f)
  }
  return {
    seed,
    window,
    faults,
    steps: steps(r.fork('steps'), window, cast),
    arms: arms(r.fork('arms'), window)
  }
}

/** The minimum of every kind first (in random order), so that a plan cut short by its window still has them. */
function drawKinds(r: Random, total: number, min: number): FaultKind[] {
  const first: FaultKind[] = []
  for (const k of FAULT_KINDS) for (let i = 0; i < min; i++) first.push(k)
  const rest: FaultKind[] = []
  const sum = FAULT_KINDS.reduce((s, k) => s + WEIGHTS[k], 0)
  while (first.length + rest.length < total) {
    let x = r.next() * sum
    for (const k of FAULT_KINDS) {
      x -= WEIGHTS[k]
      if (x < 0) {
        rest.push(k)
        break
      }
    }
  }
  return [...shuffle(r, first), ...rest]
}

function shuffle<T>(r: Random, list: readonly T[]): T[] {
  const out = [...list]
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.int(0, i)
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

/**
 * Busy until when: `name` for faults to the process, `name/net` for cuts (a cut process may still be killed),
 * `name/clock` while its clock is skewed (no store is damaged, and so made anew, then: see injector.ts).
 */
function free(busy: Map<string, number>, name: string, at: number, net = false): boolean {
  return (busy.get(net ? `${name}/net` : name) ?? 0) <= at
}

/** At most one indexer faulted at a time outside the quorum-loss window: the market stays live. */
function indexerFree(busy: Map<string, number>, cast: Cast, at: number): boolean {
  return cast.indexers.every((i) => free(busy, i, at) && free(busy, i, at, true))
}

function draw(
  r: Random,
  kind: FaultKind,
  at: number,
  window: number,
  cast: Cast,
  busy: Map<string, number>
): Fault | null {
  const nodeOnly = kind === 'damage' || kind === 'clock'
  const pool = nodeOnly
    ? cast.nodes
    : [
        ...cast.nodes,
        ...cast.nodes, // nodes run the workloads: hit them most
        ...cast.bots,
        ...(indexerFree(busy, cast, at) ? cast.indexers : []),
        ...cast.others
      ]
  const net = kind === 'cut' || kind === 'partition'
  const candidates = pool.filter(
    (p) =>
      free(busy, p, at, net) &&
      (!cast.indexers.includes(p) || free(busy, p, at, !net)) &&
      (kind !== 'damage' || (busy.get(`${p}/clock`) ?? 0) <= at)
  )
  if (candidates.length === 0) return null
  const target = r.pick(candidates)
  const left = window - at - 1000
  const f: Fault = { n: 0, at: Math.round(at), kind, target, length: 0 }
  if (kind === 'kill') f.length = r.int(500, cast.indexers.includes(target) ? 15_000 : 10_000)
  else if (kind === 'pause') f.length = r.int(1000, 30_000)
  else if (kind === 'cut') f.length = r.int(5000, 120_000)
  else if (kind === 'partition') {
    f.length = r.int(5000, 120_000)
    const others = [...cast.indexers, ...cast.nodes, ...cast.bots].filter((p) => p !== target)
    // a node or bot cut from one indexer, or from every indexer; an indexer from one or both others
    f.peers = cast.indexers.includes(target)
      ? shuffle(
          r,
          cast.indexers.filter((i) => i !== target)
        ).slice(0, r.int(1, 2))
      : r.chance(0.5)
        ? [r.pick(cast.indexers)]
        : shuffle(r, others).slice(0, r.int(2, 4))
  } else if (kind === 'damage') {
    f.length = r.int(5000, 40_000)
    f.damage = r.chance(0.5) ? 'flip' : 'truncate'
  } else {
    f.length = r.int(20_000, 90_000)
    const size = r.int(30_000, 300_000)
    f.skew = r.chance(0.5) ? size : -size
  }
  f.length = Math.min(f.length, left)
  if (f.length < 500) return null
  // a skew holds the process only while it restarts: kills may come meanwhile (the machine's clock is still off)
  if (kind === 'clock') busy.set(`${target}/clock`, at + f.length + 2000)
  busy.set(net ? `${target}/net` : target, at + (kind === 'clock' ? 5000 : f.length + 2000))
  return f
}

/** The workload mix over the faults: the CRMs are deployed before them; these come during. */
function steps(r: Random, window: number, cast: Cast): Step[] {
  const [a, b = a] = cast.bots
  const out: Step[] = [
    { at: 0.08, bot: b, action: 'deploy', what: 'job' },
    { at: 0.2, bot: b, action: 'deploy', what: 'archive' },
    { at: 0.32, bot: a, action: 'deploy', what: 'banking' },
    { at: 0.5, bot: b, action: 'stop', what: 'job' },
    { at: 0.56, bot: b, action: 'deploy', what: 'job' },
    { at: 0.66, bot: a, action: 'update', what: 'banking' }
  ].map((s) => ({ ...s, at: Math.round(s.at * window) }) as Step)
  // two deploys killed between bid and settle, two between settle and deploy
  const deploys = shuffle(
    r,
    out.filter((s) => s.action === 'deploy')
  )
  deploys[0].arm = 'bid-settle'
  deploys[1].arm = 'settle-deploy'
  deploys[2].arm = r.chance(0.5) ? 'bid-settle' : 'settle-deploy'
  return out
}

function arms(r: Random, window: number): Arm[] {
  const out: Arm[] = []
  for (const step of ['heal', 'snapshot'] as const)
    for (let i = 0; i < 3; i++)
      out.push({
        at: Math.round(window * (0.1 + 0.25 * i + r.next() * 0.1)),
        step,
        down: r.int(1000, 5000)
      })
  return out.sort((x, y) => x.at - y.at)
}

export function describeFault(f: Fault): string {
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)}s`
  const what =
    f.kind === 'kill'
      ? `kill -9, restarted after ${s(f.length)}`
      : f.kind === 'pause'
        ? `SIGSTOP for ${s(f.length)}`
        : f.kind === 'cut'
          ? `cut from every peer for ${s(f.length)}${f.quorumLoss ? ' (quorum loss)' : ''}`
          : f.kind === 'partition'
            ? `cut from ${(f.peers ?? []).join(',')} for ${s(f.length)}`
            : f.kind === 'damage'
              ? `kill -9, one store file ${f.damage === 'flip' ? 'flipped' : 'truncated'}, restarted after ${s(f.length)}`
              : `restarted with its clock ${(f.skew ?? 0) > 0 ? 'ahead' : 'behind'} by ${s(Math.abs(f.skew ?? 0))} for ${s(f.length)}`
  return `#${String(f.n).padStart(3)} +${s(f.at).padStart(7)} ${f.target.padEnd(6)} ${what}`
}
