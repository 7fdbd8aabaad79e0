/**
 * A workload's sandbox from start to end: its work dir owned by the sandbox uid, its launch spawned
 * inside its cgroup (memory, cpu and pids limits where the node may; rlimits otherwise), its host pid
 * learned from bwrap, and every process of it killed and reaped at the end.
 */
import { spawn, spawnSync, ChildProcess } from 'child_process'
import type { Duplex } from 'stream'
import fs from 'fs'
import os from 'os'
import path from 'path'
import { ScitError } from '../lib/errors'
import { logger } from '../lib/log'
import { MiB } from '../lib/resources'
import { BARE } from '../lib/runtime'
import { Cgroup } from './cgroup'
import { Proc, proc, running } from '../lib/proc'
import {
  buildLaunch,
  Launch,
  SandboxSpec,
  BWRAP,
  NO_BWRAP,
  PRLIMIT,
  NICE,
  SANDBOX_UID,
  INFO_FD,
  ARGS_FD
} from './launch'
import safetyCatch from 'safety-catch'

const log = logger('node/sandbox')

/** Processes and threads of one workload (a Node.js runtime alone runs about a dozen threads). */
export const DEFAULT_PIDS = 512

export interface Sandboxed {
  process: ChildProcess
  /** The workload's host pid (inside the namespaces), once bwrap has set up. Rejects if it never started. */
  childPid: Promise<number>
  /** The workload's cgroup while it runs; null: rlimits only. Removed once the process closed. */
  cgroup: Cgroup | null
  /** The cgroup limits the kernel enforced on it (read as it closed), e.g. "pids limit (12 forks refused)". */
  limitsHit(): string[]
  /**
   * Resolves once the launcher has closed and nothing of the workload is left:
   * its cgroup emptied and removed, and its init gone. bwrap's outer process
   * exits as soon as the workload's main process does, while the sandbox's
   * init (pid 1 inside) may still be tearing the pid namespace down.
   */
  gone: Promise<void>
  /** SIGKILL every process of the workload: its cgroup's, its init (which takes the pid namespace along), the launcher. */
  kill(): void
}

/** How long a workload's remains may take to die once killed before we stop waiting (they are in the kernel's hands). */
export const REAP_BOUND = 10_000

/**
 * Create `dir` and any missing parent traversable (0711: the sandbox user may
 * pass, not list), whatever the umask (lib/datadir makes it 077). Existing
 * parents are left alone: widening them is not ours to do (requireTraversable says so).
 */
export function mkdirTraversable(dir: string): void {
  const missing: string[] = []
  for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) missing.unshift(d)
  for (const d of missing) {
    fs.mkdirSync(d, { mode: 0o711 })
    fs.chmodSync(d, 0o711)
  }
}

/** Prepare the work dir for the sandbox uid (0700, owned by it) and start the workload. */
export function spawnSandboxed(spec: SandboxSpec): Sandboxed {
  const launch = buildLaunch(spec)
  prepareWorkDir(spec, launch)
  const cgroup = cgroupFor(spec)
  const child = start(launch, spec, cgroup)
  let hit: string[] | null = null
  // Registered before any caller's: the limits are read before the cgroup goes.
  const closed = new Promise<void>((resolve) =>
    child.once('close', () => {
      if (cgroup !== null) hit = cgroup.limitsHit()
      resolve()
    })
  )
  const childPid = hostPid(child, spec.unsafeNoSandbox === true)
  // The sandbox's init (pid 1 inside), once known: it may outlive the launcher.
  const remains: { init: Proc | null } = { init: null }
  childPid.then(
    (pid) => {
      if (pid !== child.pid) remains.init = proc(pid)
    },
    () => {}
  )
  return {
    process: child,
    childPid,
    cgroup,
    limitsHit: () => hit ?? cgroup?.limitsHit() ?? [],
    gone: reapAll(closed, cgroup, childPid, remains),
    kill: () => killAll(child, cgroup, remains.init)
  }
}

function prepareWorkDir(spec: SandboxSpec, launch: Launch): void {
  mkdirTraversable(path.dirname(spec.workDir))
  fs.mkdirSync(spec.workDir, { recursive: true, mode: 0o700 })
  if (launch.uid === undefined || launch.gid === undefined) return
  if (!spec.unsafeNoSandbox) requireTraversable(path.dirname(spec.workDir), launch.uid, launch.gid)
  chownTree(spec.workDir, launch.uid, launch.gid)
}

function cgroupFor(spec: SandboxSpec): Cgroup | null {
  if (spec.cgroups === false) return null
  return Cgroup.create(path.basename(spec.workDir), {
    memory: spec.memory,
    cpu: spec.cpu,
    pids: spec.pids ?? DEFAULT_PIDS
  })
}

/** Spawn the launch inside its cgroup, and hand bwrap its arguments on their fd. */
function start(launch: Launch, spec: SandboxSpec, cgroup: Cgroup | null): ChildProcess {
  const spawnIt = (): ChildProcess =>
    spawn(launch.file, launch.args, {
      cwd: spec.unsafeNoSandbox ? launch.cwd : '/',
      env: launch.env,
      uid: launch.uid,
      gid: launch.gid,
      stdio: spec.unsafeNoSandbox
        ? ['ignore', 'pipe', 'pipe']
        : ['ignore', 'pipe', 'pipe', 'pipe', 'pipe']
    })
  let child: ChildProcess
  try {
    child = cgroup !== null ? cgroup.spawnInside(spawnIt) : spawnIt()
  } catch (err) {
    cgroup?.destroy().catch(safetyCatch)
    throw err
  }
  if (launch.fdArgs !== null) {
    const args = child.stdio[ARGS_FD] as NodeJS.WritableStream | null
    args?.on('error', () => {}) // bwrap died before reading: its exit says why
    args?.end(launch.fdArgs)
  }
  child.once('error', () => {
    if (child.pid === undefined) cgroup?.destroy().catch(safetyCatch)
  })
  return child
}

/** The workload's host pid: the child itself without a sandbox, else what bwrap reports on its info fd. */
function hostPid(child: ChildProcess, unsandboxed: boolean): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const never = (why: string): void => reject(new ScitError('SANDBOX', why))
    child.once('error', (err) => never(`could not start the sandbox: ${err.message}`))
    if (unsandboxed) {
      // Bare's spawn has no 'spawn' event: it returns with the pid, or throws.
      if (BARE) resolve(child.pid ?? 0)
      else child.once('spawn', () => resolve(child.pid ?? 0))
      return
    }
    const info = child.stdio[INFO_FD] as Duplex | null
    let text = ''
    info?.on('data', (d: Buffer) => {
      text += d.toString()
    })
    info?.on('error', () => {})
    info?.on('end', () => {
      // Its write side too: Bare's extra pipes are duplex, and 'close' of the child waits for both ends.
      info.destroy()
      const m = /"child-pid"\s*:\s*(\d+)/.exec(text)
      if (m) resolve(Number(m[1]))
      else never('bwrap did not report a child pid (the sandbox failed to set up)')
    })
  })
}

function killAll(child: ChildProcess, cgroup: Cgroup | null, init: Proc | null): void {
  for (const pid of cgroup?.pids() ?? []) signal(pid, 'SIGKILL')
  if (init !== null && running(init)) signal(init.pid, 'SIGKILL')
  try {
    child.kill('SIGKILL')
  } catch {}
}

/** Once the launcher closed: the cgroup emptied and removed, then the init gone. */
async function reapAll(
  closed: Promise<void>,
  cgroup: Cgroup | null,
  childPid: Promise<number>,
  remains: { init: Proc | null }
): Promise<void> {
  await closed
  if (cgroup !== null) await cgroup.destroy() // kills what is left, resolves once the cgroup is empty and removed
  await childPid.catch(() => null)
  const init = remains.init
  if (init !== null && running(init)) {
    signal(init.pid, 'SIGKILL')
    await reaped(init, REAP_BOUND)
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig)
  } catch {}
}

/**
 * Wait until `p` is gone. Not our child (bwrap's outer process was its
 * parent, and it has exited; or a previous run of the node started it), so
 * there is no exit event to wait on: poll.
 */
export async function reaped(p: Proc, bound: number): Promise<void> {
  const until = Date.now() + bound
  while (running(p)) {
    if (Date.now() > until) {
      log.warn('a sandbox process outlived its SIGKILL', { pid: p.pid })
      return
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/**
 * bwrap runs as the sandbox uid, so it must be able to reach the work dir. We
 * check instead of chmod-ing the data dir's parents: widening /root is not ours to do.
 */
export function requireTraversable(dir: string, uid: number, gid: number): void {
  let d = path.resolve(dir)
  for (;;) {
    const st = fs.statSync(d)
    const bit = st.uid === uid ? 0o100 : st.gid === gid ? 0o010 : 0o001
    if ((st.mode & bit) === 0) {
      throw new ScitError(
        'SANDBOX',
        `the sandbox user (uid ${uid}) cannot reach the work dirs in ${dir}: ${d} is mode ${(st.mode & 0o777).toString(8)}. Let it pass (chmod o+x ${d}: search only, it lists nothing), or use --data (or --workloads) under a directory others can traverse, e.g. --data /var/lib/scit`
      )
    }
    const up = path.dirname(d)
    if (up === d) return
    d = up
  }
}

function chownTree(dir: string, uid: number, gid: number): void {
  fs.chownSync(dir, uid, gid)
  fs.chmodSync(dir, 0o700)
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isSymbolicLink()) fs.lchownSync(p, uid, gid)
    else if (e.isDirectory()) chownTree(p, uid, gid)
    else fs.chownSync(p, uid, gid)
  }
}

export interface Availability {
  ok: boolean
  reason: string | null
}

let cached: Availability | null = null

/** Can this machine sandbox workloads? Runs a trivial sandbox once; the answer is cached. */
export function sandboxAvailable(): Availability {
  if (cached) return cached
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-probe-'))
  try {
    const why = probe(dir, ['/usr/bin/true'])
    return (cached = { ok: why === null, reason: why })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * What every workload will need, tried before the node offers anything: the
 * sandbox user reaches `root` (when the node is root), bwrap builds a real
 * sandbox in a work dir there, and the workload writes to it (the disk is
 * writable). Otherwise the node would be paid for leases it can only fail.
 */
export function checkSandbox(root: string): void {
  const dir = path.join(root, `.probe-${process.pid}`)
  try {
    mkdirTraversable(root)
    if (process.getuid?.() === 0) requireTraversable(root, SANDBOX_UID, SANDBOX_UID)
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir, { mode: 0o700 })
  } catch (err) {
    if (err instanceof ScitError) throw err
    throw new ScitError('SANDBOX', `cannot create work dirs in ${root}: ${(err as Error).message}`)
  }
  try {
    const why = probe(dir, ['/bin/sh', '-c', 'echo ok > /work/probe'])
    if (why !== null) throw new ScitError('SANDBOX', `${why} (tried in ${root})`)
    let wrote = ''
    try {
      wrote = fs.readFileSync(path.join(dir, 'probe'), 'utf8')
    } catch {}
    if (wrote !== 'ok\n')
      throw new ScitError(
        'SANDBOX',
        `a sandboxed workload could not write its work dir in ${root}: is the disk full or read-only?`
      )
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Run `command` in a sandbox on `dir` (owned by the sandbox user when root); null when it exited 0, else why not. */
function probe(dir: string, command: string[]): string | null {
  for (const bin of [PRLIMIT, NICE]) {
    if (!fs.existsSync(bin)) return `${bin} is missing (apt-get install -y util-linux)`
  }
  if (BWRAP === null) return NO_BWRAP
  const launch = buildLaunch({ workDir: dir, command, env: {}, memory: 64 * MiB, cpu: 0 })
  if (launch.uid !== undefined && launch.gid !== undefined)
    fs.chownSync(dir, launch.uid, launch.gid)
  const args = launch.args.filter(
    (a, i, all) =>
      !(
        a === '--info-fd' ||
        all[i - 1] === '--info-fd' ||
        a === '--args' ||
        all[i - 1] === '--args'
      )
  )
  const r = spawnSync(launch.file, args, {
    env: launch.env,
    uid: launch.uid,
    gid: launch.gid,
    encoding: 'utf8',
    // A loaded machine may take long to start a sandbox once; the node must not refuse to start for that.
    timeout: 60_000,
    // bwrap outlives a SIGTERM here, and its parent too (--die-with-parent is for the sandboxed process)
    killSignal: 'SIGKILL'
  })
  if (r.status === 0) return null
  // String(): Bare's spawnSync ignores `encoding` and gives a Buffer.
  return `bwrap could not create a sandbox: ${(String(r.stderr ?? '') || r.error?.message || `exit ${String(r.status)}`).trim()}`
}

/** Bytes used under `dir` (apparent sizes of regular files; symlinks are not followed). */
export async function diskUsage(dir: string): Promise<number> {
  let total = 0
  const walk = async (d: string): Promise<void> => {
    let entries: fs.Dirent[]
    try {
      entries = await fs.promises.readdir(d, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else if (e.isFile()) {
        try {
          total += (await fs.promises.lstat(p)).blocks * 512
        } catch {}
      }
    }
  }
  await walk(dir)
  return total
}
