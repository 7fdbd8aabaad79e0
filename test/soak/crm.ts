/**
 * A CRM's user: adds a contact every ~700 ms through `scit connect` (its own process, as the bot's identity) and
 * reads them all back every few seconds. A contact the CRM acknowledged may be missing later only if its node
 * went down within one snapshot interval (plus the time the snapshot takes to reach the bot) after the write:
 * a heal restores the last snapshot the bot verified (ARCHITECTURE §10). Anything else lost is a violation.
 * Which node took a write is not known here: scit connect routes by the market's signed view, which lags the bot's
 * heals (a lease the bot failed still takes writes until its fail is final), so a write is judged by every node
 * that held a lease of the CRM at most LEASE_SLACK before it, in the bot's records or in the signed view.
 */
import fs from 'fs'
import http from 'http'
import path from 'path'
import type { Cluster } from './cluster'
import type { Injector, Outage } from './injector'
import type { Checker } from './checker'
import { sleep } from './injector'
import { GRACE } from './cluster'
import type { Proc } from './procs'
import type { Report } from './checker'
import { deployments } from './mix'
import { decodeKey } from '../../lib/keys'
import safetyCatch from 'safety-catch'

/** crm.yaml's stateInterval. */
export const STATE_INTERVAL = 10_000
/** Time a snapshot may take to reach the bot and be verified there, on a loaded machine. */
export const SNAPSHOT_SLACK = 10_000
/** How long after the bot let a lease go (failed, replaced) it may still take writes routed by the signed view. */
export const LEASE_SLACK = 20_000
/** How long before its node went down an acknowledged write may be lost. */
const ALLOWED = STATE_INTERVAL + SNAPSHOT_SLACK
/** The faults that end a node's writes (its state since the bot's last copy may be lost). */
const DOWN: Outage['kind'][] = ['kill', 'damage', 'snapshot-kill', 'pause', 'cut', 'partition']

export interface Acked {
  name: string
  at: number
  /** The nodes that may have taken it (`LeaseHolders`). */
  nodes: string[]
}

/** The nodes that held a lease of the CRM lately: any of them may take a write now. */
export class LeaseHolders {
  private readonly seen = new Map<string, number>()

  note(nodes: string[], at: number): void {
    for (const n of nodes) this.seen.set(n, Math.max(this.seen.get(n) ?? 0, at))
  }

  at(at: number): string[] {
    return [...this.seen].filter(([, t]) => at - t <= LEASE_SLACK).map(([n]) => n)
  }
}

/**
 * When `bot` could last copy `node`'s snapshots, by `at`: both running and linked. A store damaged on disk is moved
 * aside with every snapshot in it, so what the bot had not copied by then has no other holder (the design keeps one
 * copy, on the node, while its bot is away: ARCHITECTURE "State in the notary").
 */
export type LastCopy = (node: string, at: number) => number

/**
 * The latest time by `at` (by 1 s, not before `floor`) that ends a stretch of GRACE in which `linked` held: a bot
 * linked to a node again after a cut first finds it (a node it has not heard from for the grace it heals), then
 * copies. soak30 seed 2700 on 2ae367d: botB was linked to n0 again for 3.5 s before n0's store was damaged.
 */
export function lastLinked(linked: (t: number) => boolean, at: number, floor: number): number {
  let run = 0
  for (let t = at; t >= floor; t -= 1000) {
    run = linked(t) ? run + 1 : 0
    if (run > GRACE / 1000) return t + GRACE
  }
  return floor
}

/**
 * How long before one of the nodes that may have taken it went down a write was acknowledged (Infinity: none went
 * down after it), and that fault. For a damaged store, "down" is when its bot last could copy from it, if earlier
 * (soak30 seed 2700 on 2ae367d: botB cut off 725-789 s and paused 734-754 s, n0's store damaged at 793 s; the
 * writes of 737-773 s were on n0's disk only).
 */
export function lossWindow(
  a: Acked,
  outages: Outage[],
  lastCopy?: LastCopy
): { window: number; down: Outage | null; end: number } {
  let down: Outage | null = null
  let end = Infinity
  for (const o of outages) {
    if (!a.nodes.includes(o.name) || o.from < a.at - 1000 || !DOWN.includes(o.kind)) continue
    const at =
      o.kind === 'damage' && lastCopy !== undefined
        ? Math.min(o.from, lastCopy(o.name, o.from))
        : o.from
    if (at < end) {
      down = o
      end = at
    }
  }
  return { window: end - a.at, down, end }
}

/**
 * The violation a missing acknowledged write is, or null within the allowance. Times are the run's (seconds since
 * the soak started, as in the logs): soak30-q36's message gave only "32.5 s before n1 went down", read as a write
 * 32.5 s before the next fault of n1 that came to mind (668 s), not the kill at 246.7 s that bounded it.
 */
export function lossReport(
  bot: string,
  a: Acked,
  outages: Outage[],
  t0: number,
  lastCopy?: LastCopy
): string | null {
  const { window, down, end } = lossWindow(a, outages, lastCopy)
  if (window <= ALLOWED) return null
  const at = (ms: number): string => `${((ms - t0) / 1000).toFixed(1)} s`
  const held = a.nodes.join(', ') || 'no node'
  const why =
    down === null
      ? 'with no fault of those after it'
      : end < down.from
        ? `${(window / 1000).toFixed(1)} s before ${bot} last could copy from ${down.name} (${at(end)}), whose store was damaged at ${at(down.from)}`
        : `${(window / 1000).toFixed(1)} s before ${down.name} went down at ${at(down.from)} (${down.kind})`
  return `${bot}'s CRM lost contact ${a.name}, acknowledged at ${at(a.at)} while ${held} held its lease, ${why}`
}

export class CrmUser {
  readonly acked: Acked[] = []
  lost = 0
  reads = 0
  writes = 0
  /** The longest a lost contact had been acknowledged before its node went down (ms). */
  worstLoss = 0
  /** Lost with a damaged store that held the only copy: its bot could not copy them before (`LastCopy`). */
  destroyed = 0
  private connect: Proc | null = null
  private port = 0
  private stopped = false
  private loop: Promise<void> | null = null
  /** Looks at the leases every second: a write that hangs while the bot heals is judged by the lease it had. */
  private watch: NodeJS.Timeout | null = null
  private readonly missing = new Set<string>()
  private readonly holders = new LeaseHolders()

  constructor(
    private readonly cluster: Cluster,
    private readonly injector: Injector,
    private readonly checker: Checker,
    readonly bot: string,
    private readonly report: Report
  ) {}

  private readonly copies = new Map<string, number>()
  private readonly lastCopy: LastCopy = (node, at) => {
    const key = `${node}@${at}`
    let t = this.copies.get(key)
    if (t === undefined) {
      const i = this.injector
      t = lastLinked(
        (s) => i.healthy(this.bot, s, node) && i.healthy(node, s, this.bot),
        at,
        this.cluster.t0
      )
      this.copies.set(key, t)
    }
    return t
  }

  start(): void {
    let looking = false
    this.watch = setInterval(() => {
      if (looking) return
      looking = true
      void this.nodes().finally(() => (looking = false))
    }, 1000)
    this.watch.unref()
    this.loop = this.run()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.watch !== null) clearInterval(this.watch)
    await this.loop
    await this.read().catch(safetyCatch) // the CRM may be down right now: the loss check waits for a read
    await this.connect?.term()
  }

  private contract(): string | null {
    return deployments(this.cluster, this.bot).find((d) => d.id === 'crm')?.contract ?? null
  }

  /** The nodes, by name, of the CRM's settled leases, in its bot's records or (still) in the signed view. */
  private async leases(): Promise<string[]> {
    const out = new Set<string>()
    const doc = deployments(this.cluster, this.bot).find((d) => d.id === 'crm') as unknown as
      { trades: Array<{ id: string; node: string; phase: string }> } | undefined
    for (const t of doc?.trades ?? []) {
      const settled =
        t.phase === 'settled' ||
        (await this.checker.peer?.client.trade(t.id).catch(() => null))?.state === 'settled'
      if (!settled) continue
      for (const [name, k] of this.cluster.keys) if (k === t.node) out.add(name)
    }
    return [...out]
  }

  /** The nodes that may take a write now. */
  private async nodes(): Promise<string[]> {
    const now = Date.now()
    this.holders.note(await this.leases().catch(() => []), now)
    return this.holders.at(now)
  }

  private async run(): Promise<void> {
    let n = 0
    let lastRead = 0
    while (!this.stopped) {
      if (this.connect === null || !this.connect.alive) {
        await this.open()
        continue
      }
      const name = `${this.bot}-c${++n}`
      const ok = await post(this.port, { name, email: `${name}@soak.example` }).catch(() => false)
      this.writes++
      if (ok) this.ack({ name, at: Date.now(), nodes: await this.nodes() })
      if (Date.now() - lastRead > 5000) {
        lastRead = Date.now()
        await this.read().catch(safetyCatch) // down now (a fault): read again later
      }
      await sleep(700)
    }
  }

  /** Kept, and written to <run>/logs/<bot>-crm-acks.log: which write was acknowledged when, with whom. */
  private ack(a: Acked): void {
    this.acked.push(a)
    const line = `${((a.at - this.cluster.t0) / 1000).toFixed(2).padStart(8)} ${a.name} ${a.nodes.join(',')}\n`
    fs.appendFile(
      path.join(this.cluster.dir, 'logs', `${this.bot}-crm-acks.log`),
      line,
      safetyCatch
    )
  }

  /**
   * The user's own data dir, with the bot's identity (the key the contract lets in): scit connect follows the
   * market from a store of its own, which `scit bot run` holds in the bot's dir.
   */
  private userData(): string {
    const dir = this.cluster.data(`${this.bot}-user`)
    if (!fs.existsSync(dir)) {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
      fs.copyFileSync(
        path.join(this.cluster.data(this.bot), 'identity.json'),
        path.join(dir, 'identity.json')
      )
      fs.chmodSync(path.join(dir, 'identity.json'), 0o600)
    }
    return dir
  }

  private async open(): Promise<void> {
    const contract = this.contract()
    if (contract === null) {
      await sleep(2000)
      return
    }
    decodeKey(contract, 'contract')
    await this.connect?.term()
    const p = this.cluster.command(`${this.bot}-connect`, [
      'connect',
      contract,
      'web:8080',
      '--data',
      this.userData(),
      '--json',
      '--timeout',
      '2m'
    ])
    this.connect = p
    await p.start()
    const deadline = Date.now() + 120_000
    while (p.alive && Date.now() < deadline && !/"listen"/.test(p.stdout)) await sleep(200)
    const m = /"listen"\s*:\s*"[^"]*:(\d+)"/.exec(p.stdout)
    if (m === null) {
      await p.term()
      await sleep(2000)
      return
    }
    this.port = Number(m[1])
  }

  /** Every acknowledged contact is there, or was lost within the allowance before its node went down. */
  private async read(): Promise<void> {
    if (this.port === 0) return
    const list = await get(this.port)
    this.reads++
    const have = new Set(list.map((c) => c.name))
    for (const a of this.acked) {
      if (have.has(a.name) || this.missing.has(a.name)) continue
      this.missing.add(a.name)
      this.lost++
      const outages = this.injector.outages
      const { window } = lossWindow(a, outages, this.lastCopy)
      this.worstLoss = Math.max(this.worstLoss, Number.isFinite(window) ? window : 0)
      if (window <= ALLOWED && lossWindow(a, outages).window > ALLOWED) this.destroyed++
      const lost = lossReport(this.bot, a, outages, this.cluster.t0, this.lastCopy)
      if (lost !== null) this.report('state', lost)
    }
  }
}

function request(
  port: number,
  method: string,
  path: string,
  body: unknown
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === null ? null : JSON.stringify(body)
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        timeout: 10_000,
        headers: data === null ? {} : { 'content-type': 'application/json' }
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (text += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
        res.on('error', reject)
      }
    )
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end(data ?? undefined)
  })
}

async function post(port: number, contact: { name: string; email: string }): Promise<boolean> {
  return (await request(port, 'POST', '/contacts', contact)).status === 201
}

async function get(port: number): Promise<Array<{ name: string }>> {
  const r = await request(port, 'GET', '/contacts', null)
  if (r.status !== 200) throw new Error(`GET /contacts: ${r.status}`)
  return JSON.parse(r.text) as Array<{ name: string }>
}
