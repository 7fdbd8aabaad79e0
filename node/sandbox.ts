/**
 * The sandbox a workload runs in: bubblewrap namespaces plus rlimits, built as
 * one argv (never a shell, so nothing a contract supplies is ever parsed).
 *
 *   prlimit --data=M --core=0 -- nice -n 10 -- taskset -c CPUS -- bwrap … -- COMMAND…
 *
 * What the workload gets (ARCHITECTURE §7):
 * - its own user (no capabilities, cannot create nested user namespaces),
 *   pid, ipc, uts and, unless it declares ports, network namespaces;
 * - the system read-only: /usr (and the /bin, /lib* links), the node binary's
 *   directory, and the few /etc files that name resolution and TLS need;
 * - a private writable /work (its own directory, nothing else of the data dir),
 *   a size-bounded tmpfs /tmp, a fresh /proc and a minimal /dev;
 * - only the environment the contract declares (plus PATH, HOME, and PORT*),
 *   handed to bwrap on a pipe (`--args FD`), never on its argv: a command line
 *   is readable by every user of the machine (/proc/<pid>/cmdline, ps), and
 *   contract env may hold secrets. Not through the launcher's environment
 *   either: prlimit, nice, taskset and bwrap run outside the sandbox, where a
 *   contract's LD_PRELOAD would be code run on the host;
 * - PR_SET_NO_NEW_PRIVS (bwrap always sets it), --die-with-parent and
 *   --new-session (no TIOCSTI into the node's terminal).
 * When the node runs as root, bwrap itself is started as an unprivileged uid
 * (default 65534), so even an escape lands on a user that owns nothing.
 *
 * Limits: where the node may use cgroups (node/cgroup.ts), the whole
 * workload gets a memory limit, a cpu quota and a pids limit. Always, as the
 * fallback and a second line: memory is RLIMIT_DATA (per process: malloc/mmap
 * past it fails), cpu is nice + affinity (advisory: a workload may widen its
 * own affinity). Disk is watched (diskUsage) by the supervisor against the lease.
 */
import { spawn, spawnSync, ChildProcess } from 'child_process'
import fs from 'fs'
import os from 'os'
import path from 'path'
import { ScitError } from '../lib/errors'
import { logger } from '../lib/log'
import { MiB } from '../lib/resources'
import { Cgroup } from './cgroup'

const log = logger('node/sandbox')

export const BWRAP = '/usr/bin/bwrap'
export const PRLIMIT = '/usr/bin/prlimit'
export const NICE = '/usr/bin/nice'
export const TASKSET = '/usr/bin/taskset'
export const SANDBOX_UID = 65534
export const DEFAULT_TMP_SIZE = 64 * MiB
/** Processes and threads of one workload (a Node.js runtime alone runs about a dozen threads). */
export const DEFAULT_PIDS = 512

/** System paths bound read-only when they exist. /etc is not bound whole: it holds host secrets and config. */
const SYSTEM_RO = ['/usr']
const ETC_RO = ['/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/localtime', '/etc/ssl', '/etc/ca-certificates',
  '/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/host.conf', '/etc/gai.conf', '/etc/alternatives']
const MERGED_LINKS: Array<[string, string]> = [['usr/bin', '/bin'], ['usr/sbin', '/sbin'], ['usr/lib', '/lib'], ['usr/lib64', '/lib64'], ['usr/lib32', '/lib32']]

export interface SandboxSpec {
  /** Host directory bound writable at /work: the workload's own files. */
  workDir: string
  /** argv inside the sandbox; argv[0] absolute, or "node" for this node's own runtime. */
  command: string[]
  env: Record<string, string>
  /** true: share the host network namespace (the workload declared ports). */
  network: boolean
  /** RLIMIT_DATA in bytes; 0: no limit. */
  memory: number
  /** millicores; decides how many cpus the workload is pinned to. 0: all. */
  cpu: number
  tmpSize?: number
  /** Host uid/gid to run bwrap as when the node is root. */
  uid?: number
  gid?: number
  /** Development only: run without namespaces (still with rlimits, cwd and env). */
  unsafeNoSandbox?: boolean
  /** pids limit of the workload's cgroup (default DEFAULT_PIDS); ignored without cgroups. */
  pids?: number
  /** false: rlimits only, even where cgroups are available. */
  cgroups?: boolean
}

/**
 * `args` is the launcher's argv; `fdArgs`, when set, is what bwrap reads from
 * fd ARGS_FD (NUL-separated arguments, parsed where `--args` stands): the
 * workload's environment, kept off every command line.
 */
export interface Launch { file: string; args: string[]; fdArgs: Buffer | null; uid?: number; gid?: number; cwd: string; env: Record<string, string> }

/** bwrap writes the workload's host pid to INFO_FD and reads more arguments from ARGS_FD. */
export const INFO_FD = 3
export const ARGS_FD = 4

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Resolve argv[0]: "node" means the runtime this node runs on, which the sandbox binds read-only. */
export function resolveCommand (command: string[]): string[] {
  if (command.length === 0) throw new ScitError('SANDBOX', 'a workload needs a command')
  const [cmd, ...rest] = command
  if (cmd === 'node') return [nodeBinary(), ...rest]
  if (!path.isAbsolute(cmd)) throw new ScitError('SANDBOX', `command "${cmd}" must be an absolute path inside the sandbox (or "node")`)
  return [cmd, ...rest]
}

function nodeBinary (): string {
  return fs.realpathSync(process.execPath)
}

export function workloadEnv (spec: SandboxSpec): Record<string, string> {
  const env: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/work', TMPDIR: '/tmp' }
  for (const [k, v] of Object.entries(spec.env)) {
    if (!ENV_NAME.test(k)) throw new ScitError('SANDBOX', `environment name "${k}" is not valid`)
    if (v.includes('\0')) throw new ScitError('SANDBOX', `environment value of ${k} contains a NUL byte`)
    env[k] = v
  }
  return env
}

/** Pin to ceil(cpu / 1000) cpus, spread from the last one (the node's own work tends to run on cpu 0). */
export function cpuList (milli: number, cpus = os.availableParallelism()): string | null {
  if (milli <= 0) return null
  const n = Math.min(cpus, Math.max(1, Math.ceil(milli / 1000)))
  if (n >= cpus) return null
  const first = cpus - n
  return n === 1 ? String(first) : `${first}-${cpus - 1}`
}

/** The argv that runs `spec`. Pure apart from existence checks of host paths. */
export function buildLaunch (spec: SandboxSpec): Launch {
  const command = resolveCommand(spec.command)
  const env = workloadEnv(spec)
  const wrap: string[] = []
  if (spec.memory > 0) wrap.push(PRLIMIT, `--data=${spec.memory}`, '--core=0', '--')
  else wrap.push(PRLIMIT, '--core=0', '--')
  wrap.push(NICE, '-n', '10', '--')
  const cpus = cpuList(spec.cpu)
  if (cpus !== null) wrap.push(TASKSET, '-c', cpus)

  const root = process.getuid?.() === 0
  const ids = root ? { uid: spec.uid ?? SANDBOX_UID, gid: spec.gid ?? SANDBOX_UID } : {}
  if (spec.unsafeNoSandbox) {
    return { file: wrap[0], args: [...wrap.slice(1), ...command], fdArgs: null, cwd: spec.workDir, env, ...ids }
  }

  const b: string[] = [BWRAP,
    '--unshare-user', '--disable-userns', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    '--hostname', 'scit', '--die-with-parent', '--new-session', '--clearenv']
  if (!spec.network) b.push('--unshare-net')
  for (const p of SYSTEM_RO) if (fs.existsSync(p)) b.push('--ro-bind', p, p)
  for (const [target, link] of MERGED_LINKS) {
    const st = lstat(link)
    if (st?.isSymbolicLink()) b.push('--symlink', target, link)
    else if (st?.isDirectory()) b.push('--ro-bind', link, link)
  }
  for (const p of ETC_RO) if (fs.existsSync(p)) b.push('--ro-bind', p, p)
  // A node installed outside /usr (nvm, /opt) is bound read-only where it is, so "node" works inside.
  const runtime = path.dirname(nodeBinary())
  if (!runtime.startsWith('/usr/')) b.push('--ro-bind', runtime, runtime)
  b.push('--proc', '/proc', '--dev', '/dev',
    '--size', String(spec.tmpSize ?? DEFAULT_TMP_SIZE), '--tmpfs', '/tmp',
    '--bind', spec.workDir, '/work',
    // bwrap builds the root on a tmpfs: make it read-only so /etc, / … cannot be filled (memory) or faked.
    '--remount-ro', '/', '--chdir', '/work')
  // After --clearenv: the workload starts from an empty environment and gets exactly these.
  const setenv = Object.entries(env).flatMap(([k, v]) => ['--setenv', k, v])
  b.push('--args', String(ARGS_FD))
  // bwrap writes {"child-pid": N} to the info fd: the host pid of the workload.
  b.push('--info-fd', String(INFO_FD), '--', ...command)
  return { file: wrap[0], args: [...wrap.slice(1), ...b], fdArgs: Buffer.from(setenv.map(a => a + '\0').join('')), cwd: spec.workDir, env: {}, ...ids }
}

function lstat (p: string): fs.Stats | null {
  try { return fs.lstatSync(p) } catch { return null }
}

export interface Sandboxed {
  process: ChildProcess
  /** The workload's host pid (inside the namespaces), once bwrap has set up. Rejects if it never started. */
  childPid: Promise<number>
  /** The workload's cgroup while it runs; null: rlimits only. Removed once the process closed. */
  cgroup: Cgroup | null
  /** The cgroup limits the kernel enforced on it (read as it closed), e.g. "pids limit (12 forks refused)". */
  limitsHit (): string[]
  /**
   * Resolves once the launcher has closed and nothing of the workload is left:
   * its cgroup emptied and removed, and its init gone. bwrap's outer process
   * exits as soon as the workload's main process does, while the sandbox's
   * init (pid 1 inside) may still be tearing the pid namespace down.
   */
  gone: Promise<void>
  /** SIGKILL every process of the workload: its cgroup's, its init (which takes the pid namespace along), the launcher. */
  kill (): void
}

/** How long a workload's remains may take to die once killed before we stop waiting (they are in the kernel's hands). */
const REAP_BOUND = 10_000

/**
 * Create `dir` and any missing parent traversable (0711: the sandbox user may
 * pass, not list), whatever the umask (lib/datadir makes it 077). Existing
 * parents are left alone: widening them is not ours to do (requireTraversable says so).
 */
export function mkdirTraversable (dir: string): void {
  const missing: string[] = []
  for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) missing.unshift(d)
  for (const d of missing) {
    fs.mkdirSync(d, { mode: 0o711 })
    fs.chmodSync(d, 0o711)
  }
}

/** Prepare the work dir for the sandbox uid (0700, owned by it) and start the workload. */
export function spawnSandboxed (spec: SandboxSpec): Sandboxed {
  const launch = buildLaunch(spec)
  mkdirTraversable(path.dirname(spec.workDir))
  fs.mkdirSync(spec.workDir, { recursive: true, mode: 0o700 })
  if (launch.uid !== undefined && launch.gid !== undefined) {
    if (!spec.unsafeNoSandbox) requireTraversable(path.dirname(spec.workDir), launch.uid, launch.gid)
    chownTree(spec.workDir, launch.uid, launch.gid)
  }
  const cgroup = spec.cgroups === false ? null : Cgroup.create(path.basename(spec.workDir), { memory: spec.memory, cpu: spec.cpu, pids: spec.pids ?? DEFAULT_PIDS })
  const start = (): ChildProcess => spawn(launch.file, launch.args, {
    cwd: spec.unsafeNoSandbox ? launch.cwd : '/',
    env: launch.env,
    uid: launch.uid,
    gid: launch.gid,
    stdio: spec.unsafeNoSandbox ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', 'pipe', 'pipe']
  })
  let child: ChildProcess
  try {
    child = cgroup !== null ? cgroup.spawnInside(start) : start()
  } catch (err) {
    cgroup?.destroy().catch(() => {})
    throw err
  }
  if (launch.fdArgs !== null) {
    const args = child.stdio[ARGS_FD] as NodeJS.WritableStream | null
    args?.on('error', () => {}) // bwrap died before reading: its exit says why
    args?.end(launch.fdArgs)
  }
  let hit: string[] | null = null
  // Registered before any caller's: the limits are read before the cgroup goes.
  const closed = new Promise<void>(resolve => child.once('close', () => {
    if (cgroup !== null) hit = cgroup.limitsHit()
    resolve()
  }))
  child.once('error', () => { if (child.pid === undefined) cgroup?.destroy().catch(() => {}) })
  let init: Proc | null = null
  const childPid = new Promise<number>((resolve, reject) => {
    const never = (why: string): void => reject(new ScitError('SANDBOX', why))
    child.once('error', err => never(`could not start the sandbox: ${err.message}`))
    if (spec.unsafeNoSandbox) {
      child.once('spawn', () => resolve(child.pid ?? 0))
      return
    }
    const info = child.stdio[INFO_FD] as NodeJS.ReadableStream | null
    let text = ''
    info?.on('data', (d: Buffer) => { text += d.toString() })
    info?.on('error', () => {})
    info?.on('end', () => {
      const m = /"child-pid"\s*:\s*(\d+)/.exec(text)
      if (m) resolve(Number(m[1]))
      else never('bwrap did not report a child pid (the sandbox failed to set up)')
    })
  })
  childPid.then(pid => { if (pid !== child.pid) init = proc(pid) }, () => {})
  const kill = (): void => {
    for (const pid of cgroup?.pids() ?? []) signal(pid, 'SIGKILL')
    if (init !== null && alive(init)) signal(init.pid, 'SIGKILL')
    try { child.kill('SIGKILL') } catch {}
  }
  const gone = closed.then(async () => {
    if (cgroup !== null) await cgroup.destroy() // kills what is left, resolves once the cgroup is empty and removed
    await childPid.catch(() => null)
    if (init !== null && alive(init)) {
      signal(init.pid, 'SIGKILL')
      await reaped(init, REAP_BOUND)
    }
  })
  return { process: child, childPid, cgroup, limitsHit: () => hit ?? cgroup?.limitsHit() ?? [], gone, kill }
}

/** A process, told apart from a later one with the same pid by its start time. */
interface Proc { pid: number; start: string | null }

function statOf (pid: number): string | null {
  try { return fs.readFileSync(`/proc/${pid}/stat`, 'utf8') } catch { return null }
}

/** Fields after the command name (which may hold spaces and parentheses): [0] is the state, [19] the start time. */
function statFields (stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

function proc (pid: number): Proc {
  const stat = statOf(pid)
  return { pid, start: stat === null ? null : statFields(stat)[19] }
}

/** Is `p` still there? A zombie is not: it holds nothing but its exit status. */
function alive (p: Proc): boolean {
  if (p.start === null) return false
  const stat = statOf(p.pid)
  if (stat === null) return false
  const f = statFields(stat)
  return f[19] === p.start && f[0] !== 'Z' && f[0] !== 'X'
}

function signal (pid: number, sig: NodeJS.Signals): void {
  try { process.kill(pid, sig) } catch {}
}

/**
 * Wait until `p` is gone. Not our child (bwrap's outer process was its
 * parent, and it has exited), so there is no exit event to wait on: poll.
 */
async function reaped (p: Proc, bound: number): Promise<void> {
  const until = Date.now() + bound
  while (alive(p)) {
    if (Date.now() > until) { log.warn('a sandbox init outlived its SIGKILL', { pid: p.pid }); return }
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/**
 * bwrap runs as the sandbox uid, so it must be able to reach the work dir. We
 * check instead of chmod-ing the data dir's parents: widening /root is not ours to do.
 */
export function requireTraversable (dir: string, uid: number, gid: number): void {
  let d = path.resolve(dir)
  for (;;) {
    const st = fs.statSync(d)
    const bit = st.uid === uid ? 0o100 : st.gid === gid ? 0o010 : 0o001
    if ((st.mode & bit) === 0) {
      throw new ScitError('SANDBOX', `the sandbox user ${uid} cannot reach ${dir}: ${d} is mode ${(st.mode & 0o777).toString(8)}; put workloads under a directory it can traverse (e.g. --workloads /var/lib/scit/workloads)`)
    }
    const up = path.dirname(d)
    if (up === d) return
    d = up
  }
}

function chownTree (dir: string, uid: number, gid: number): void {
  fs.chownSync(dir, uid, gid)
  fs.chmodSync(dir, 0o700)
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isSymbolicLink()) fs.lchownSync(p, uid, gid)
    else if (e.isDirectory()) chownTree(p, uid, gid)
    else fs.chownSync(p, uid, gid)
  }
}

export interface Availability { ok: boolean; reason: string | null }

let cached: Availability | null = null

/** Can this machine sandbox workloads? Runs a trivial sandbox once; the answer is cached. */
export function sandboxAvailable (): Availability {
  if (cached) return cached
  for (const bin of [BWRAP, PRLIMIT, NICE]) {
    if (!fs.existsSync(bin)) return (cached = { ok: false, reason: `${bin} is missing (apt-get install bubblewrap util-linux)` })
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-probe-'))
  try {
    const launch = buildLaunch({ workDir: dir, command: ['/usr/bin/true'], env: {}, network: false, memory: 64 * MiB, cpu: 0 })
    if (launch.uid !== undefined && launch.gid !== undefined) fs.chownSync(dir, launch.uid, launch.gid)
    const args = launch.args.filter((a, i, all) => !(a === '--info-fd' || all[i - 1] === '--info-fd' || a === '--args' || all[i - 1] === '--args'))
    const r = spawnSync(launch.file, args, { env: launch.env, uid: launch.uid, gid: launch.gid, encoding: 'utf8', timeout: 10_000 })
    if (r.status === 0) return (cached = { ok: true, reason: null })
    return (cached = { ok: false, reason: `bwrap could not create a sandbox: ${(r.stderr || r.error?.message || `exit ${String(r.status)}`).trim()}` })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Bytes used under `dir` (apparent sizes of regular files; symlinks are not followed). */
export async function diskUsage (dir: string): Promise<number> {
  let total = 0
  const walk = async (d: string): Promise<void> => {
    let entries: fs.Dirent[]
    try { entries = await fs.promises.readdir(d, { withFileTypes: true }) } catch { return }
    for (const e of entries) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else if (e.isFile()) {
        try { total += (await fs.promises.lstat(p)).blocks * 512 } catch {}
      }
    }
  }
  await walk(dir)
  return total
}
