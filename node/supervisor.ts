/**
 * Runs workloads in the sandbox and keeps them as their contract asks: a kind that finishes runs
 * to completion and reports its digests; a service restarts with a back-off reset after a stable
 * period. Each run of a process is a Run (node/run.ts); what its end means is decided here.
 *
 * Events: 'transition' (Transition), 'log' ({ id, stream, data }), 'disk' ({ id, used, limit }).
 */
import { EventEmitter } from 'events'
import fs from 'fs'
import path from 'path'
import crypto from 'crypto'
import b4a from 'b4a'
import { logger } from '../lib/log'
import { ScitError } from '../lib/errors'
import { formatSize } from '../lib/resources'
import { kindEntry, type Runner } from '../lib/workload-kinds'
import type { WorkloadState, PortMapping } from '../lib/node-messages'
import { mkdirTraversable } from './sandbox'
import { Run, RunEnd } from './run'
import { Tail, DEFAULT_TAIL_BYTES } from './output'
import { BRIDGE_DIR, BRIDGE_SCRIPT, SANDBOX_UID } from './launch'
import {
  WorkloadSpec,
  Transition,
  Endpoint,
  checkSpec,
  digestOutput,
  freePort,
  portEnv,
  backoffDelay,
  Holder,
  HolderProgress
} from './workload'

const log = logger('node/supervisor')

export interface SupervisorOptions {
  /** Work dirs live at <root>/<id>; the sandbox uid must be able to traverse root. */
  root: string
  unsafeNoSandbox?: boolean
  uid?: number
  gid?: number
  backoff?: { initial?: number; max?: number; stable?: number }
  tailBytes?: number
  /** How often the work dir's size is checked against the lease (ms). */
  diskInterval?: number
  /** How long a stopped workload gets between SIGTERM and SIGKILL (ms). */
  stopGrace?: number
  /** Processes and threads per workload, where cgroups are available (default sandbox DEFAULT_PIDS). */
  pids?: number
  /** The DHT key a service port is served under (node/services.ts), for the status records. */
  serviceKey?: (id: string, port: number) => Buffer
}

export interface LogEvent {
  id: string
  stream: 'stdout' | 'stderr'
  data: Buffer
}
export interface DiskEvent {
  id: string
  used: number
  limit: number
}

export interface WorkloadInfo {
  spec: WorkloadSpec
  state: WorkloadState
  reason: string
  since: number
  restarts: number
  pid: number | null
  ports: PortMapping[]
  /** How the node reaches each declared port of the current run; [] for a workload without ports. */
  endpoints: Endpoint[]
  /** The pids cgroup of the current run (node/cgroup.ts), or null: rlimits only, or not running. */
  cgroup: string | null
}

interface Slot {
  spec: WorkloadSpec
  info: WorkloadInfo
  /** The current run of a process workload (node/run.ts). */
  run: Run | null
  /** Resolves once the current run is over: its process closed and every process of it gone. */
  exited: Promise<void> | null
  wanted: boolean // false once stop() was asked: no more restarts
  stopReason: string
  attempt: number // consecutive crashes, for the back-off
  timer: NodeJS.Timeout | null
  stdout: Tail
  stderr: Tail
  keeper: Holder | null // a kind its node keeps: holds data instead of running a process
}

export class Supervisor extends EventEmitter {
  readonly root: string
  private readonly opts: Required<
    Pick<SupervisorOptions, 'tailBytes' | 'diskInterval' | 'stopGrace'>
  > &
    SupervisorOptions
  private readonly backoff: { initial: number; max: number; stable: number }
  private readonly slots = new Map<string, Slot>()
  private closed = false
  private readonly bridgeScript: string
  private readonly runners: Record<Runner, (slot: Slot) => Promise<void> | void> = {
    process: (slot) => this.launch(slot),
    keeper: (slot) => this.keep(slot),
    shards: (slot) => this.keep(slot)
  }

  constructor(opts: SupervisorOptions) {
    super()
    this.root = path.resolve(opts.root)
    this.opts = { tailBytes: DEFAULT_TAIL_BYTES, diskInterval: 30_000, stopGrace: 5_000, ...opts }
    this.backoff = { initial: 1_000, max: 60_000, stable: 60_000, ...opts.backoff }
    // Traversable, not listable: the sandbox uid must reach its own dir, never see the others'.
    mkdirTraversable(this.root)
    fs.chmodSync(this.root, 0o711)
    // The sandbox uid must read the bridge script to bind it: this build may live where it cannot (/root/…); a copy
    // here, its own, it can (read-only, readable by nobody else). Its name starts with a dot: no workload id does.
    this.bridgeScript = path.join(this.root, '.scit-bridge.js')
    fs.rmSync(this.bridgeScript, { force: true })
    fs.copyFileSync(BRIDGE_SCRIPT, this.bridgeScript)
    fs.chmodSync(this.bridgeScript, 0o400)
    if (process.getuid?.() === 0)
      fs.chownSync(this.bridgeScript, opts.uid ?? SANDBOX_UID, opts.gid ?? SANDBOX_UID)
    if (opts.unsafeNoSandbox)
      log.warn(
        'WORKLOADS RUN WITHOUT A SANDBOX (--unsafe-no-sandbox): for development only, never on a machine you sell'
      )
  }

  workDir(id: string): string {
    return path.join(this.root, id)
  }

  /** Record a state the daemon decides (verifying, refused) for a workload that may not run here yet. */
  note(id: string, state: 'verifying' | 'refused', reason: string): void {
    this.emitTransition(id, state, reason, {})
  }

  /**
   * Record a refusal that leaves a workload as it is (an update whose files did
   * not verify, while the old version runs): a transition in its current state,
   * with `reason`, so the status core says why without calling it refused.
   */
  remark(id: string, reason: string): void {
    const slot = this.slots.get(id)
    if (!slot) {
      this.note(id, 'refused', reason)
      return
    }
    slot.info.reason = reason
    this.emitTransition(id, slot.info.state, reason, {
      ports: slot.info.ports,
      restarts: slot.info.restarts,
      pid: slot.info.pid
    })
  }

  /** Start (or replace the spec of a stopped) workload. Resolves once it was asked to start. */
  async start(spec: WorkloadSpec): Promise<void> {
    if (this.closed) throw new ScitError('CLOSED', 'supervisor is closed')
    checkSpec(spec)
    const prev = this.slots.get(spec.id)
    if (prev?.wanted)
      throw new ScitError(
        'INVALID_ARGUMENT',
        `workload ${spec.id} is already running: stop it first`
      )
    const slot: Slot = {
      spec,
      info: {
        spec,
        state: 'starting',
        reason: '',
        since: Date.now(),
        restarts: 0,
        pid: null,
        ports: [],
        endpoints: [],
        cgroup: null
      },
      run: null,
      exited: null,
      wanted: true,
      stopReason: 'stopped',
      attempt: 0,
      timer: null,
      stdout: new Tail(this.opts.tailBytes),
      stderr: new Tail(this.opts.tailBytes),
      keeper: null
    }
    this.slots.set(spec.id, slot)
    await this.runners[kindEntry(spec.kind).runner](slot)
  }

  private async launch(slot: Slot): Promise<void> {
    slot.timer = null
    if (!slot.wanted) return
    const { spec } = slot
    const unsafe = this.opts.unsafeNoSandbox === true
    const endpoints: Endpoint[] = []
    const token = crypto.randomBytes(16)
    for (const port of spec.ports) {
      endpoints.push(
        unsafe
          ? { port, tcp: await freePort(), socket: null, token: null }
          : {
              port,
              tcp: null,
              socket: path.join(this.workDir(spec.id), BRIDGE_DIR, `${port}.sock`),
              token
            }
      )
    }
    if (!slot.wanted) return
    const ports: PortMapping[] = spec.ports.map((port) => ({
      port,
      key: this.opts.serviceKey?.(spec.id, port) ?? b4a.alloc(32)
    }))
    slot.info.ports = ports
    slot.info.endpoints = endpoints
    this.setState(
      slot,
      'starting',
      slot.info.restarts > 0 ? `restart ${slot.info.restarts}` : 'launching'
    )
    let run: Run
    try {
      run = new Run(
        {
          workDir: this.workDir(spec.id),
          command: spec.command,
          env: { ...spec.env, ...portEnv(endpoints) },
          bridge:
            spec.ports.length > 0 && !unsafe
              ? { ports: spec.ports, token: token.toString('hex'), script: this.bridgeScript }
              : null,
          memory: spec.resources.memory,
          cpu: spec.resources.cpu,
          uid: this.opts.uid,
          gid: this.opts.gid,
          unsafeNoSandbox: this.opts.unsafeNoSandbox,
          pids: this.opts.pids
        },
        {
          output: (stream, data) => {
            slot[stream].push(data)
            this.emit('log', { id: spec.id, stream, data })
          },
          running: (pid) => {
            if (slot.run !== run) return
            slot.info.pid = pid
            this.setState(
              slot,
              'running',
              ports.length > 0
                ? `ports ${spec.ports.join(' ')}, reached only through the DHT${unsafe ? ' (unsandboxed: on loopback ports only the node is told)' : ''}`
                : 'sandboxed'
            )
            this.watchDisk(slot, run)
          },
          failed: (err) => log.warn('workload did not start', { id: spec.id, err: err.message }),
          exit: (end) => {
            this.exited(slot, run, end).catch((err) =>
              log.error('exit handling failed', { id: spec.id, err: (err as Error).message })
            )
          }
        }
      )
    } catch (err) {
      slot.wanted = false
      this.setState(slot, 'failed', (err as Error).message)
      return
    }
    slot.run = run
    slot.exited = run.exited
    slot.info.cgroup = run.cgroup
  }

  /** A kept kind runs no process: 'running' means everything it should hold is held here. */
  private keep(slot: Slot): void {
    const keeper = slot.spec.holder
    if (keeper === undefined) return
    slot.keeper = keeper
    this.setState(slot, 'starting', 'fetching what it keeps')
    keeper.on('progress', (p: HolderProgress) => {
      if (slot.keeper === keeper && slot.wanted)
        this.setState(slot, p.done ? 'running' : 'starting', p.text)
    })
    slot.exited = keeper.run().catch((err: Error) => {
      keeper.detach()
      if (slot.keeper !== keeper || !slot.wanted) return
      slot.wanted = false
      this.setState(slot, 'failed', err.message)
    })
  }

  private async exited(slot: Slot, run: Run, end: RunEnd): Promise<void> {
    if (slot.run !== run) return
    slot.run = null
    slot.info.pid = null
    slot.info.cgroup = null
    const { spec } = slot
    const { code, signal, limits } = end
    const how =
      (signal !== null ? `killed by ${signal}` : `exit code ${String(code)}`) +
      (limits.length > 0 ? ` (hit the ${limits.join(' and the ')})` : '')
    if (!slot.wanted) {
      this.emitTransition(spec.id, 'stopped', slot.stopReason, { exitCode: code, signal }, slot)
      return
    }
    if (kindEntry(spec.kind).finishes) {
      const output =
        spec.output !== null ? await digestOutput(this.workDir(spec.id), spec.output) : null
      const ok = code === 0
      const policy = spec.restart ?? 'never'
      const again = policy === 'always' || (policy === 'on-failure' && !ok)
      this.emitTransition(
        spec.id,
        ok ? 'exited' : 'failed',
        how,
        { exitCode: code, signal, stdout: end.stdout.digest(), output },
        slot
      )
      if (!again) {
        slot.wanted = false
        return
      }
    } else {
      const policy = spec.restart ?? 'always'
      if (policy === 'never' || (policy === 'on-failure' && code === 0)) {
        slot.wanted = false
        this.emitTransition(
          spec.id,
          code === 0 ? 'exited' : 'failed',
          how,
          { exitCode: code, signal },
          slot
        )
        return
      }
    }
    // A run that lasted past the stable period was not a crash loop: start the back-off over.
    if (Date.now() - end.started >= this.backoff.stable) slot.attempt = 0
    const delay = backoffDelay(slot.attempt++, this.backoff.initial, this.backoff.max)
    slot.info.restarts++
    this.emitTransition(
      spec.id,
      'failed',
      `${how}; restart in ${delay}ms`,
      { exitCode: code, signal, backoff: delay },
      slot
    )
    slot.timer = setTimeout(() => {
      this.launch(slot).catch((err) =>
        log.error('restart failed', { id: spec.id, err: (err as Error).message })
      )
    }, delay)
  }

  private watchDisk(slot: Slot, run: Run): void {
    const limit = slot.spec.resources.ssd + slot.spec.resources.hdd
    if (limit === 0) return
    run.watchDisk(this.workDir(slot.spec.id), limit, this.opts.diskInterval, (used) => {
      log.warn('workload uses more disk than its lease', { id: slot.spec.id, used, limit })
      this.emit('disk', { id: slot.spec.id, used, limit })
    })
  }

  /**
   * Stop a workload for good: no restart. Resolves when nothing of it runs any more.
   * `release`: the lease is over, so an archive deletes the blocks it kept; otherwise (a
   * shutdown, an update) they stay for the next start.
   */
  async stop(id: string, reason = 'stopped', opts: { release?: boolean } = {}): Promise<void> {
    const slot = this.slots.get(id)
    if (!slot) throw new ScitError('NOT_FOUND', `no workload ${id}`)
    const wasWanted = slot.wanted
    slot.wanted = false
    slot.stopReason = reason
    if (slot.timer) {
      clearTimeout(slot.timer)
      slot.timer = null
    }
    const keeper = slot.keeper
    if (keeper !== null) {
      if (opts.release === true) {
        const freed = await keeper.release()
        reason = `${reason}; cleared the ${formatSize(freed)} it kept`
      } else keeper.detach()
      await slot.exited
      if (wasWanted) this.emitTransition(id, 'stopped', reason, {}, slot)
      return
    }
    const run = slot.run
    if (!run) {
      if (wasWanted) this.emitTransition(id, 'stopped', reason, {}, slot)
      return
    }
    await run.stop(this.opts.stopGrace)
  }

  get(id: string): WorkloadInfo | null {
    return this.slots.get(id)?.info ?? null
  }
  /** Is the workload meant to be running (running, starting, or waiting out a back-off)? */
  active(id: string): boolean {
    return this.slots.get(id)?.wanted ?? false
  }
  list(): WorkloadInfo[] {
    return [...this.slots.values()].map((s) => s.info)
  }

  tail(id: string): { stdout: string; stderr: string } {
    const slot = this.slots.get(id)
    if (!slot) throw new ScitError('NOT_FOUND', `no workload ${id}`)
    return { stdout: slot.stdout.text(), stderr: slot.stderr.text() }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all([...this.slots.keys()].map((id) => this.stop(id, 'node shutting down')))
  }

  private setState(slot: Slot, state: WorkloadState, reason: string): void {
    this.emitTransition(slot.spec.id, state, reason, {}, slot)
  }

  private emitTransition(
    id: string,
    state: WorkloadState,
    reason: string,
    extra: Partial<Transition>,
    slot?: Slot
  ): void {
    if (slot) {
      slot.info.state = state
      slot.info.reason = reason
      slot.info.since = Date.now()
    }
    const t: Transition = {
      id,
      state,
      reason,
      time: Date.now(),
      exitCode: null,
      signal: null,
      stdout: null,
      output: null,
      ports: slot?.info.ports ?? [],
      restarts: slot?.info.restarts ?? 0,
      pid: slot?.info.pid ?? null,
      backoff: null,
      ...extra
    }
    log.info(`${id} ${state}`, { reason })
    this.emit('transition', t)
  }
}
