/**
 * Whole-workload limits with cgroup v1 (memory, cpu quota, pids) where the node
 * may write them; otherwise per-process rlimits (node/launch.ts). Cgroups are named
 * `<node pid>-<n>-<workload>` so a restarted node removes only dead nodes' leftovers.
 * Nothing may fork outside the cgroup: the spawning thread enters pids and cpu for
 * the spawn; memory is charged per mm, so the child joins it right after spawn.
 */
import fs from 'fs'
import path from 'path'
import { logger } from '../lib/log'

const log = logger('node/cgroup')

const MOUNT = '/sys/fs/cgroup'
const CONTROLLERS = ['pids', 'cpu', 'memory'] as const
type Controller = (typeof CONTROLLERS)[number]
const CFS_PERIOD = 100_000 // µs

export interface CgroupLimits {
  /** bytes; 0: none. */
  memory: number
  /** millicores; 0: none. */
  cpu: number
  /** processes and threads; 0: none. */
  pids: number
}

type Bases = Record<Controller, string>

let bases: Bases | null | undefined
let counter = 0

/** The node's own cgroup per controller, if all three are writable v1 mounts; cached. */
export function cgroupBases(): Bases | null {
  if (bases !== undefined) return bases
  bases = null
  if (process.getuid?.() !== 0) return null
  try {
    const own = new Map<string, string>()
    for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n')) {
      const [, names, p] = line.split(':')
      for (const n of names.split(',')) if (n !== '') own.set(n, p)
    }
    const found: Partial<Bases> = {}
    for (const c of CONTROLLERS) {
      const rel = own.get(c)
      const dir = path.join(MOUNT, c, rel ?? '/')
      if (rel === undefined || !fs.existsSync(path.join(dir, 'tasks'))) return null
      found[c] = dir
    }
    const probe = path.join((found as Bases).pids, 'scit', `probe-${process.pid}`)
    fs.mkdirSync(probe, { recursive: true })
    fs.rmdirSync(probe)
    bases = found as Bases
    sweep(bases)
  } catch (err) {
    log.info('cgroups unavailable: rlimits only', { err: (err as Error).message })
    bases = null
  }
  return bases
}

/** Remove the cgroups of nodes that are gone, once their workloads are (node/stale-sandboxes.ts kills those). */
export function sweepCgroups(): void {
  const b = cgroupBases()
  if (b !== null) sweep(b)
}

/** Remove empty cgroups of nodes that are gone (kill -9 leaves them). */
function sweep(b: Bases): void {
  for (const c of CONTROLLERS) {
    const root = path.join(b[c], 'scit')
    let names: string[]
    try {
      names = fs.readdirSync(root)
    } catch {
      continue
    }
    for (const name of names) {
      const pid = Number(name.split('-')[0])
      if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue
      try {
        fs.rmdirSync(path.join(root, name))
      } catch {}
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export class Cgroup {
  private constructor(
    readonly dirs: Bases,
    private readonly home: Bases
  ) {}

  /** null where cgroups are unavailable (the caller relies on rlimits). */
  static create(workload: string, limits: CgroupLimits): Cgroup | null {
    const b = cgroupBases()
    if (b === null) return null
    const name = `${process.pid}-${++counter}-${workload}`
    const dirs = {} as Bases
    try {
      for (const c of CONTROLLERS) {
        dirs[c] = path.join(b[c], 'scit', name)
        fs.mkdirSync(dirs[c], { recursive: true })
      }
      if (limits.pids > 0) write(dirs.pids, 'pids.max', limits.pids)
      if (limits.cpu > 0) {
        write(dirs.cpu, 'cpu.cfs_period_us', CFS_PERIOD)
        write(
          dirs.cpu,
          'cpu.cfs_quota_us',
          Math.max(1000, Math.round((limits.cpu * CFS_PERIOD) / 1000))
        )
      }
      if (limits.memory > 0) {
        write(dirs.memory, 'memory.limit_in_bytes', limits.memory)
        // missing without swap accounting: memory alone bounds it then
        try {
          write(dirs.memory, 'memory.memsw.limit_in_bytes', limits.memory)
        } catch {}
      }
    } catch (err) {
      log.warn('could not set up a cgroup: rlimits only', { workload, err: (err as Error).message })
      for (const c of CONTROLLERS)
        if (dirs[c])
          try {
            fs.rmdirSync(dirs[c])
          } catch {}
      return null
    }
    return new Cgroup(dirs, b)
  }

  /** Run `spawn` with the calling thread in this cgroup's pids and cpu controllers, then add the child to memory. */
  spawnInside<T extends { pid?: number }>(spawn: () => T): T {
    const tid = String(process.pid) // the main thread: Node spawns from it
    write(this.dirs.pids, 'tasks', tid)
    try {
      write(this.dirs.cpu, 'tasks', tid)
      try {
        const child = spawn()
        if (child.pid !== undefined) {
          try {
            write(this.dirs.memory, 'cgroup.procs', child.pid)
          } catch (err) {
            log.warn('could not add a workload to its memory cgroup', {
              err: (err as Error).message
            })
          }
        }
        return child
      } finally {
        write(this.home.cpu, 'tasks', tid)
      }
    } finally {
      write(this.home.pids, 'tasks', tid)
    }
  }

  limitsHit(): string[] {
    const hit: string[] = []
    const pids = /max (\d+)/.exec(read(this.dirs.pids, 'pids.events'))
    if (pids !== null && Number(pids[1]) > 0) hit.push(`pids limit (${pids[1]} forks refused)`)
    const oom = /oom_kill (\d+)/.exec(read(this.dirs.memory, 'memory.oom_control'))
    if (oom !== null && Number(oom[1]) > 0) hit.push('memory limit (out-of-memory kill)')
    return hit
  }

  pids(): number[] {
    return read(this.dirs.pids, 'cgroup.procs').split('\n').filter(Boolean).map(Number)
  }

  /** Kill what is left (without a pid namespace there may be orphans) and remove the cgroup. */
  async destroy(): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
      for (const pid of this.pids())
        try {
          process.kill(pid, 'SIGKILL')
        } catch {}
      let busy = false
      for (const c of CONTROLLERS) {
        try {
          fs.rmdirSync(this.dirs[c])
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') busy = true
        }
      }
      if (!busy) return
      // killed tasks leave once reaped: a moment, not a condition we can wait on
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    log.warn('a workload cgroup could not be removed', { dir: this.dirs.pids })
  }
}

function write(dir: string, file: string, value: string | number): void {
  fs.writeFileSync(path.join(dir, file), String(value))
}

function read(dir: string, file: string): string {
  try {
    return fs.readFileSync(path.join(dir, file), 'utf8')
  } catch {
    return ''
  }
}
