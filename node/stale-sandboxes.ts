/**
 * Sandboxes a killed run of this node left behind. --die-with-parent does not cover a node killed while
 * bwrap sets up: bwrap's outer process, or the sandbox's init with the workload, is then left to init
 * for good; and an unsandboxed workload (--unsafe-no-sandbox) has no bwrap to die with its node at all.
 * A node starting on the same workloads root kills them (docs/ARCHITECTURE.md "Sandbox"): every process
 * whose launch binds a work dir of that root, or names one in its environment (node/launch.ts
 * WORK_DIR_ENV), what runs under it, then the cgroups they held. Those of another node's root are never
 * touched.
 */
import path from 'path'
import { logger } from '../lib/log'
import { processes, running, environ, type Proc, type ProcEntry } from '../lib/proc'
import { boundWorkDir, markedWorkDir } from './launch'
import { reaped, REAP_BOUND } from './sandbox'
import { sweepCgroups } from './cgroup'

const log = logger('node/stale-sandboxes')

interface Stale extends Proc {
  workload: string
}

/** SIGKILL the sandboxes of work dirs in `root` this process did not start; resolves once they are gone (bounded). */
export async function reapStaleSandboxes(root: string): Promise<number> {
  const stale = staleSandboxes(path.resolve(root))
  for (const p of stale) {
    if (!running(p)) continue
    try {
      process.kill(p.pid, 'SIGKILL')
    } catch {}
  }
  await Promise.all(stale.map((p) => reaped(p, REAP_BOUND)))
  for (const p of stale)
    log.warn('reaped a sandbox process a previous run left', { pid: p.pid, workload: p.workload })
  if (stale.length > 0) sweepCgroups()
  return stale.length
}

/** Processes launched for a work dir in `root`, and those under them; never this process, its ancestors or what it started. */
function staleSandboxes(root: string): Stale[] {
  const all = processes()
  const byPid = new Map(all.map((p) => [p.pid, p]))
  const children = new Map<number, ProcEntry[]>()
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p])
  const under = (pid: number): ProcEntry[] =>
    (children.get(pid) ?? []).flatMap((c) => [c, ...under(c.pid)])
  const ours = new Set(under(process.pid).map((p) => p.pid))
  for (let p = byPid.get(process.pid); p !== undefined && !ours.has(p.pid); p = byPid.get(p.ppid))
    ours.add(p.pid)
  const out = new Map<number, Stale>()
  for (const p of all) {
    const dir = boundWorkDir(p.argv) ?? markedWorkDir(environ(p.pid))
    if (dir === null || path.dirname(dir) !== root || ours.has(p.pid)) continue
    const workload = path.basename(dir)
    for (const q of [p, ...under(p.pid)])
      if (!ours.has(q.pid)) out.set(q.pid, { pid: q.pid, start: q.start, workload })
  }
  return [...out.values()]
}
