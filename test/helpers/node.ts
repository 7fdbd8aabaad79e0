/** Test helpers for node/: work dirs the sandbox uid can reach, sandboxed runs, supervisors, events. */
import fs from 'fs'
import path from 'path'
import { EventEmitter } from 'events'
import type { Assert } from 'brittle'
import { spawnSandboxed } from '../../node/sandbox'
import type { SandboxSpec } from '../../node/launch'
import { Supervisor, SupervisorOptions } from '../../node/supervisor'
import type { WorkloadSpec, Transition } from '../../node/workload'
import { ZERO, MiB } from '../../lib/resources'
import type { Testnet } from '../../lib/testnet'
import c from 'compact-encoding'
import { statusRecord, StatusRecord } from '../../lib/node-messages'
import { NodeDaemon, NodeOptions } from '../../node/daemon'

/**
 * A node daemon on `market` selling 1 core, 2 GiB and 1 GiB ssd in CH, with fast restarts; closed at
 * teardown (`order`: before or after the bots that use it).
 */
export async function nodeDaemon(
  t: Assert,
  net: Testnet,
  market: Buffer,
  over: Partial<NodeOptions> = {},
  order = -1
): Promise<NodeDaemon> {
  const n = new NodeDaemon({
    data: over.data ?? (await t.tmp()),
    market,
    dht: net.createNode(),
    capacity: { ...ZERO, cpu: 1000, memory: 2048 * MiB, ssd: 1024 * MiB },
    prices: { ...ZERO, cpu: 10, memory: 1 },
    country: 'CH',
    city: 'Zurich',
    attributes: [],
    minLease: 1,
    workloads: path.join(await tmpDir(t), 'workloads'),
    supervisor: { backoff: { initial: 20, max: 1000, stable: 60_000 }, stopGrace: 2000 },
    ...over
  })
  t.teardown(() => n.close(), { order })
  await n.ready()
  return n
}

/** A fresh directory (removed at teardown) that the sandbox uid may traverse. */
export async function tmpDir(t: Assert): Promise<string> {
  const dir = await t.tmp()
  fs.chmodSync(dir, 0o711)
  return dir
}

export interface RunResult {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
  pid: number | null
}

/** Run one command in the sandbox to completion. */
export async function runSandboxed(
  t: Assert,
  spec: Partial<SandboxSpec> & { command: string[] }
): Promise<RunResult> {
  const root = await tmpDir(t)
  const full: SandboxSpec = { workDir: path.join(root, 'w'), env: {}, memory: 0, cpu: 0, ...spec }
  const s = spawnSandboxed(full)
  let stdout = ''
  let stderr = ''
  s.process.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString()
  })
  s.process.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const pid = await s.childPid.catch(() => null)
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
    s.process.once('close', (c, sig) => resolve([c, sig]))
  )
  return { code, signal, stdout, stderr, pid }
}

/** Node code run by the sandboxed runtime: `node -e CODE`. */
export function nodeScript(code: string): string[] {
  return ['node', '-e', code]
}

export function supervisor(
  t: Assert,
  root: string,
  opts: Partial<SupervisorOptions> = {}
): Supervisor {
  const s = new Supervisor({
    root: path.join(root, 'workloads'),
    backoff: { initial: 20, max: 2000, stable: 60_000 },
    stopGrace: 2000,
    ...opts
  })
  t.teardown(() => s.close())
  return s
}

export function spec(id: string, over: Partial<WorkloadSpec> = {}): WorkloadSpec {
  return {
    id,
    kind: 'job',
    command: ['/usr/bin/true'],
    env: {},
    ports: [],
    resources: { ...ZERO, cpu: 500, memory: 512 * MiB },
    output: null,
    ...over
  }
}

/** The next transition of `id` that satisfies `pred`. */
export function transition(
  s: Supervisor,
  id: string,
  pred: (t: Transition) => boolean
): Promise<Transition> {
  return nextEvent(s, 'transition', (t: Transition) => t.id === id && pred(t))
}

export function nextEvent<T>(
  e: EventEmitter,
  name: string,
  pred: (v: T) => boolean = () => true
): Promise<T> {
  return new Promise((resolve) => {
    const on = (v: T): void => {
      if (!pred(v)) return
      e.off(name, on)
      resolve(v)
    }
    e.on(name, on)
  })
}

/** Is a host pid gone (or only a zombie)? */
export function gone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return true
  }
}

/** A status record's body, every field but `over` empty. */
export function statusBody(
  over: Partial<StatusRecord> & Pick<StatusRecord, 'workload' | 'state'>
): Buffer {
  return c.encode(statusRecord, {
    reason: '',
    exitCode: null,
    signal: null,
    stdout: null,
    output: null,
    ports: [],
    restarts: 0,
    contract: null,
    trade: null,
    stateCore: null,
    service: null,
    ...over
  })
}

/** A transition as the supervisor emits it, its reason its state unless `over` says. */
export function transitionOf(
  id: string,
  state: Transition['state'],
  over: Partial<Transition> = {}
): Transition {
  return {
    id,
    state,
    reason: state,
    time: Date.now(),
    exitCode: null,
    signal: null,
    stdout: null,
    output: null,
    ports: [],
    restarts: 0,
    pid: null,
    backoff: null,
    ...over
  }
}
