/**
 * The runtime's view of a workload: what to run (a spec the daemon derives
 * from a verified contract) and the transitions between the states it moves
 * through, which the status core records (docs/ARCHITECTURE.md "Execution"). The states
 * themselves are declared with the status core's format, in
 * lib/node-messages.ts, since bots and the explorer read them too.
 */
import fs from 'fs'
import path from 'path'
import net from 'net'
import { ScitError } from '../lib/errors'
import {
  isWorkloadKind,
  kindEntry,
  type WorkloadKind,
  type RestartPolicy
} from '../lib/workload-kinds'
import type { Resources } from '../lib/resources'
import type { WorkloadState, PortMapping } from '../lib/node-messages'
import { StreamDigest } from './output'
import type { EventEmitter } from 'events'

export interface WorkloadSpec {
  /** Unique on this node; names the work dir, so it is restricted to a safe alphabet. */
  id: string
  kind: WorkloadKind
  command: string[]
  env: Record<string, string>
  /** Ports the service listens on, inside its own network namespace (PORT_<port>, and PORT for the first). */
  ports: number[]
  restart?: RestartPolicy
  resources: Resources
  /** kind job: a file under the work dir whose digest is reported. */
  output: string | null
  /** Kinds whose node keeps data and runs nothing (runner keeper or shards): what keeps it. */
  holder?: Holder
}

/**
 * What keeps a lease's data when the node runs nothing (node/mirror.ts,
 * node/archive-keeper.ts): `run` until detached, reporting 'progress'
 * ({ done, text }: done is 'running'); `release` deletes what it kept.
 */
export interface Holder extends EventEmitter {
  run(): Promise<void>
  detach(): void
  release(): Promise<number>
}

/** What a holder reports: whether it holds all it should, in words for the status core. */
export interface HolderProgress {
  done: boolean
  text: string
}

/**
 * How the node reaches a declared port of a running service: the bridge's
 * socket in the work dir, which says `token` first (sandboxed), or a
 * loopback port only the node was told (--unsafe-no-sandbox).
 */
export interface Endpoint {
  port: number
  socket: string | null
  tcp: number | null
  token: Buffer | null
}

export interface Transition {
  id: string
  state: WorkloadState
  reason: string
  time: number
  exitCode: number | null
  signal: string | null
  /** BLAKE2b-256 of everything the job printed on stdout. */
  stdout: Buffer | null
  /** BLAKE2b-256 of the job's declared output file. */
  output: Buffer | null
  ports: PortMapping[]
  restarts: number
  /** Host pid of the workload process while it runs. */
  pid: number | null
  /** Delay before the next restart, when one is scheduled. */
  backoff: number | null
}

const ID = /^[a-z0-9][a-z0-9._-]{0,63}$/

export function checkSpec(spec: WorkloadSpec): void {
  if (!ID.test(spec.id) || spec.id.includes('..'))
    throw new ScitError('INVALID_ARGUMENT', `workload id "${spec.id}" must match ${String(ID)}`)
  if (!isWorkloadKind(spec.kind))
    throw new ScitError('INVALID_ARGUMENT', `workload kind "${String(spec.kind)}" cannot run here`)
  if ((kindEntry(spec.kind).runner !== 'process') !== (spec.holder !== undefined))
    throw new ScitError(
      'INVALID_ARGUMENT',
      `workload ${spec.id}: data to keep goes with a kind its node keeps, not ${spec.kind}`
    )
  for (const p of spec.ports)
    if (!Number.isInteger(p) || p < 1 || p > 65535)
      throw new ScitError('INVALID_ARGUMENT', `port ${p} is not a port`)
  if (spec.output !== null) outputPath('/work', spec.output)
}

/** Resolve a declared output path under `workDir`, refusing anything that could point outside. */
export function outputPath(workDir: string, rel: string): string {
  if (
    rel === '' ||
    path.isAbsolute(rel) ||
    rel.split(/[\\/]/).includes('..') ||
    rel.includes('\0')
  ) {
    throw new ScitError(
      'INVALID_ARGUMENT',
      `output "${rel}" must be a relative path inside the work dir`
    )
  }
  return path.join(workDir, rel)
}

/**
 * Digest a file the workload wrote. The workload controls that tree, so a
 * symlink could point at a host file: the parent is resolved and checked, and
 * the file itself is opened with O_NOFOLLOW.
 */
export async function digestOutput(workDir: string, rel: string): Promise<Buffer | null> {
  const file = outputPath(workDir, rel)
  let fd: fs.promises.FileHandle
  try {
    const root = await fs.promises.realpath(workDir)
    const parent = await fs.promises.realpath(path.dirname(file))
    if (parent !== root && !parent.startsWith(root + path.sep)) return null
    fd = await fs.promises.open(
      path.join(parent, path.basename(file)),
      fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK
    )
  } catch {
    return null
  }
  try {
    if (!(await fd.stat()).isFile()) return null
    const d = new StreamDigest()
    // Reads, not a stream: Bare's streams close the handle themselves (no autoClose: false).
    const buf = Buffer.alloc(64 * 1024)
    for (;;) {
      const { bytesRead } = await fd.read(buf, 0, buf.byteLength, null)
      if (bytesRead === 0) break
      d.update(buf.subarray(0, bytesRead))
    }
    return d.digest()
  } finally {
    await fd.close()
  }
}

/**
 * A free loopback port for a declared one, without a sandbox. There is a
 * window between closing the probe and the workload binding; a workload that
 * loses it crashes and is restarted with a fresh port.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** Where the service listens: its declared port in its namespace, or the loopback port it was given without one. */
export function portEnv(endpoints: Endpoint[]): Record<string, string> {
  const env: Record<string, string> = {}
  const at = (e: Endpoint): string => String(e.tcp ?? e.port)
  if (endpoints.length > 0) env.PORT = at(endpoints[0])
  for (const e of endpoints) env[`PORT_${e.port}`] = at(e)
  return env
}

/** Restart delay: initial·2^n, capped. */
export function backoffDelay(attempt: number, initial: number, max: number): number {
  return Math.min(max, initial * 2 ** Math.min(attempt, 30))
}
