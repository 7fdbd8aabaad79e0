/**
 * The launch of a workload: the one argv (never a shell) that runs it in bubblewrap namespaces under
 * rlimits, and what the sandbox grants it (docs/ARCHITECTURE.md "Sandbox"). Pure apart from existence
 * checks of host paths; starting it is node/sandbox.ts.
 *
 *   prlimit --data=M --core=0 -- nice -n 10 -- taskset -c CPUS -- bwrap … -- COMMAND…
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { ScitError } from '../lib/errors'
import { MiB } from '../lib/resources'
import { BARE, unsupportedOnBare } from '../lib/runtime'

/** bubblewrap, found on PATH as a shell would find it; null on a machine without it. */
export const BWRAP: string | null = onPath('bwrap')
export const NO_BWRAP =
  'bubblewrap (bwrap) is not installed or not on PATH: apt-get install -y bubblewrap'
export const PRLIMIT = '/usr/bin/prlimit'
export const NICE = '/usr/bin/nice'
export const TASKSET = '/usr/bin/taskset'
export const SANDBOX_UID = 65534
export const DEFAULT_TMP_SIZE = 64 * MiB

/** System paths bound read-only when they exist. /etc is not bound whole: it holds host secrets and config. */
const SYSTEM_RO = ['/usr']
const ETC_RO = [
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/localtime',
  '/etc/ssl',
  '/etc/ca-certificates',
  '/etc/resolv.conf',
  '/etc/hosts',
  '/etc/nsswitch.conf',
  '/etc/host.conf',
  '/etc/gai.conf',
  '/etc/alternatives'
]
const MERGED_LINKS: Array<[string, string]> = [
  ['usr/bin', '/bin'],
  ['usr/sbin', '/sbin'],
  ['usr/lib', '/lib'],
  ['usr/lib64', '/lib64'],
  ['usr/lib32', '/lib32']
]

export interface SandboxSpec {
  /** Host directory bound writable at /work: the workload's own files. */
  workDir: string
  /** argv inside the sandbox; argv[0] absolute, or "node" for this node's own runtime. */
  command: string[]
  env: Record<string, string>
  /** A service with ports: run it under the bridge (node/bridge.ts), which serves each port on <work>/.scit/PORT.sock. */
  bridge?: BridgeSpec | null
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
  /** pids limit of the workload's cgroup (default node/sandbox DEFAULT_PIDS); ignored without cgroups. */
  pids?: number
  /** false: rlimits only, even where cgroups are available. */
  cgroups?: boolean
}

/**
 * `args` is the launcher's argv; `fdArgs`, when set, is what bwrap reads from
 * fd ARGS_FD (NUL-separated arguments, parsed where `--args` stands): the
 * workload's environment, kept off every command line.
 */
/** The bridge of a service: its ports, and the token it says first on each socket (proof to the node that it reached the bridge). */
export interface BridgeSpec {
  ports: number[]
  token: string
  /** The bridge script on the host (default this build's): somewhere the sandbox uid can reach (node/supervisor.ts copies it). */
  script?: string
}

/** Where the bridge script is inside the sandbox, and where it is on the host (this build's dist/node/bridge.js). */
export const BRIDGE_PATH = '/scit/bridge.js'
export const BRIDGE_SCRIPT = path.join(__dirname, 'bridge.js')
/** The bridge's directory in the work dir: one socket per declared port. */
export const BRIDGE_DIR = '.scit'
export const BRIDGE_TOKEN_ENV = 'SCIT_BRIDGE_TOKEN'

export interface Launch {
  file: string
  args: string[]
  fdArgs: Buffer | null
  uid?: number
  gid?: number
  cwd: string
  env: Record<string, string>
}

/** Where the work dir is bound inside the sandbox. */
const WORK = '/work'

/**
 * The work dir the launch in `argv` binds at /work: a sandbox's own processes (the
 * launcher before it execs bwrap, bwrap, the sandbox's init) all carry it. null for
 * any other argv; only bwrap's own options are read, never its command's.
 */
export function boundWorkDir(argv: string[]): string | null {
  const from = argv.findIndex((a) => path.basename(a) === 'bwrap')
  if (from === -1) return null
  for (let i = from + 1; i < argv.length - 2 && argv[i] !== '--'; i++)
    if (argv[i] === '--bind' && argv[i + 2] === WORK) return argv[i + 1]
  return null
}

/**
 * An unsandboxed workload (--unsafe-no-sandbox) has no bwrap whose options name its work dir: its environment does,
 * inherited by whatever it starts, so a node killed -9 and started again finds and kills what it left running.
 */
export const WORK_DIR_ENV = 'SCIT_WORK_DIR'

/** The work dir an unsandboxed launch names in its environment (`/proc/PID/environ`'s entries), or null. */
export function markedWorkDir(environ: string[]): string | null {
  const prefix = `${WORK_DIR_ENV}=`
  const e = environ.find((x) => x.startsWith(prefix))
  return e === undefined ? null : e.slice(prefix.length)
}

/** bwrap writes the workload's host pid to INFO_FD and reads more arguments from ARGS_FD. */
export const INFO_FD = 3
export const ARGS_FD = 4

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Resolve argv[0]: "node" means the runtime this node runs on, which the sandbox binds read-only. */
export function resolveCommand(command: string[]): string[] {
  if (command.length === 0) throw new ScitError('SANDBOX', 'a workload needs a command')
  const [cmd, ...rest] = command
  if (cmd === 'node') return [nodeBinary(), ...rest]
  if (!path.isAbsolute(cmd))
    throw new ScitError(
      'SANDBOX',
      `command "${cmd}" must be an absolute path inside the sandbox (or "node")`
    )
  return [cmd, ...rest]
}

/** "node" is this runtime on Node; on Bare, which cannot run Node code, it is the node found on PATH. */
function nodeBinary(): string {
  const node = hostNode()
  if (node === null) throw unsupportedOnBare('a "node" workload with no node binary on PATH')
  return node
}

function hostNode(): string | null {
  if (!BARE) return fs.realpathSync(process.execPath)
  const node = onPath('node')
  return node === null ? null : fs.realpathSync(node)
}

export function workloadEnv(spec: SandboxSpec): Record<string, string> {
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: WORK,
    TMPDIR: '/tmp'
  }
  for (const [k, v] of Object.entries(spec.env)) {
    if (!ENV_NAME.test(k)) throw new ScitError('SANDBOX', `environment name "${k}" is not valid`)
    if (v.includes('\0'))
      throw new ScitError('SANDBOX', `environment value of ${k} contains a NUL byte`)
    env[k] = v
  }
  return env
}

/** Pin to ceil(cpu / 1000) cpus, spread from the last one (the node's own work tends to run on cpu 0). */
export function cpuList(milli: number, cpus = os.availableParallelism()): string | null {
  if (milli <= 0) return null
  const n = Math.min(cpus, Math.max(1, Math.ceil(milli / 1000)))
  if (n >= cpus) return null
  const first = cpus - n
  return n === 1 ? String(first) : `${first}-${cpus - 1}`
}

/** The argv that runs `spec`. Pure apart from existence checks of host paths. */
export function buildLaunch(spec: SandboxSpec): Launch {
  let command = resolveCommand(spec.command)
  const env = workloadEnv(spec)
  const bridge = spec.bridge ?? null
  if (bridge !== null && !spec.unsafeNoSandbox) {
    // The bridge runs the workload as its child: both in the one network namespace, the bridge's sockets in the work dir.
    command = [
      nodeBinary(),
      BRIDGE_PATH,
      `/work/${BRIDGE_DIR}`,
      ...bridge.ports.map(String),
      '--',
      ...command
    ]
    env[BRIDGE_TOKEN_ENV] = bridge.token
  }
  const wrap: string[] = []
  if (spec.memory > 0) wrap.push(PRLIMIT, `--data=${spec.memory}`, '--core=0', '--')
  else wrap.push(PRLIMIT, '--core=0', '--')
  wrap.push(NICE, '-n', '10', '--')
  const cpus = cpuList(spec.cpu)
  if (cpus !== null) wrap.push(TASKSET, '-c', cpus)

  const root = process.getuid?.() === 0
  const ids = root ? { uid: spec.uid ?? SANDBOX_UID, gid: spec.gid ?? SANDBOX_UID } : {}
  if (spec.unsafeNoSandbox) {
    return {
      file: wrap[0],
      args: [...wrap.slice(1), ...command],
      fdArgs: null,
      cwd: spec.workDir,
      env: { ...env, [WORK_DIR_ENV]: spec.workDir },
      ...ids
    }
  }

  if (BWRAP === null) throw new ScitError('SANDBOX', NO_BWRAP)
  const b: string[] = [
    BWRAP,
    '--unshare-user',
    '--disable-userns',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--unshare-net',
    '--hostname',
    'scit',
    '--die-with-parent',
    '--new-session',
    '--clearenv'
  ]
  for (const p of SYSTEM_RO) if (fs.existsSync(p)) b.push('--ro-bind', p, p)
  for (const [target, link] of MERGED_LINKS) {
    const st = lstat(link)
    if (st?.isSymbolicLink()) b.push('--symlink', target, link)
    else if (st?.isDirectory()) b.push('--ro-bind', link, link)
  }
  for (const p of ETC_RO) if (fs.existsSync(p)) b.push('--ro-bind', p, p)
  // A node installed outside /usr (nvm, /opt) is bound read-only where it is, so "node" works inside.
  const node = hostNode()
  const runtime = node === null ? null : path.dirname(node)
  if (runtime !== null && !runtime.startsWith('/usr/')) b.push('--ro-bind', runtime, runtime)
  b.push(
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--size',
    String(spec.tmpSize ?? DEFAULT_TMP_SIZE),
    '--tmpfs',
    '/tmp',
    '--bind',
    spec.workDir,
    WORK,
    ...(bridge !== null ? ['--ro-bind', bridge.script ?? BRIDGE_SCRIPT, BRIDGE_PATH] : []),
    // bwrap builds the root on a tmpfs: make it read-only so /etc, / … cannot be filled (memory) or faked.
    '--remount-ro',
    '/',
    '--chdir',
    WORK
  )
  // After --clearenv: the workload starts from an empty environment and gets exactly these.
  const setenv = Object.entries(env).flatMap(([k, v]) => ['--setenv', k, v])
  b.push('--args', String(ARGS_FD))
  // bwrap writes {"child-pid": N} to the info fd: the host pid of the workload.
  b.push('--info-fd', String(INFO_FD), '--', ...command)
  return {
    file: wrap[0],
    args: [...wrap.slice(1), ...b],
    fdArgs: Buffer.from(setenv.map((a) => a + '\0').join('')),
    cwd: spec.workDir,
    env: {},
    ...ids
  }
}

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((d) => path.isAbsolute(d))) {
    const p = path.join(dir, name)
    try {
      fs.accessSync(p, fs.constants.X_OK)
      if (fs.statSync(p).isFile()) return p
    } catch {}
  }
  return null
}

function lstat(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p)
  } catch {
    return null
  }
}
