/**
 * One run of a process workload, from spawn to the moment nothing of it is
 * left: started in its sandbox (node/sandbox.ts), its output digested and
 * handed on, its host pid once bwrap has set up, its disk use watched, and
 * how it is stopped. What the end of a run means (done, failed, a restart
 * after a back-off) is for the supervisor (node/supervisor.ts) to decide.
 */
import fs from 'fs'
import type { ChildProcess } from 'child_process'
import { spawnSandboxed, diskUsage, Sandboxed } from './sandbox'
import type { SandboxSpec } from './launch'
import { StreamDigest } from './output'
import safetyCatch from 'safety-catch'

function childrenOf (pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

/** How a run ended, once nothing of it is left. */
export interface RunEnd {
  code: number | null
  signal: NodeJS.Signals | null
  /** When it was spawned (ms since the epoch). */
  started: number
  /** Everything it printed on stdout, digested. */
  stdout: StreamDigest
  /** The cgroup limits the kernel enforced on it, e.g. "pids limit (12 forks refused)". */
  limits: string[]
}

export interface RunHooks {
  output (stream: 'stdout' | 'stderr', data: Buffer): void
  /** bwrap has set up: the workload runs, as host `pid`. Not called once the process has exited. */
  running (pid: number): void
  /** The sandbox never started the workload; `exit` follows. */
  failed (err: Error): void
  exit (end: RunEnd): void
}

export class Run {
  readonly child: ChildProcess
  /** The pids cgroup of the run (node/cgroup.ts), or null: rlimits only. */
  readonly cgroup: string | null
  /** The workload's host pid, once it runs. */
  pid: number | null = null
  /** Resolves once the run is over: its process closed and every process of it gone. */
  readonly exited: Promise<void>
  private readonly sandbox: Sandboxed
  private disk: NodeJS.Timeout | null = null

  /** Spawn the workload; throws when its sandbox cannot be started. */
  constructor (spec: SandboxSpec, hooks: RunHooks) {
    const started = Date.now()
    const out = new StreamDigest()
    const sandboxed = spawnSandboxed(spec)
    const child = sandboxed.process
    this.child = child
    this.sandbox = sandboxed
    this.cgroup = sandboxed.cgroup?.dirs.pids ?? null
    child.stdout?.on('data', (d: Buffer) => { out.update(d); hooks.output('stdout', d) })
    child.stderr?.on('data', (d: Buffer) => { hooks.output('stderr', d) })
    let over = false
    this.exited = new Promise(resolve => {
      child.once('close', (code, signal) => {
        // The run is over when nothing of it is left, not when bwrap's outer process is: its init may outlive it.
        sandboxed.gone.catch(safetyCatch).then(() => {
          over = true
          if (this.disk) clearInterval(this.disk)
          this.disk = null
          resolve()
          hooks.exit({ code, signal, started, stdout: out, limits: sandboxed.limitsHit() })
        })
      })
    })
    sandboxed.childPid.then(pid => {
      if (over || child.exitCode !== null || child.signalCode !== null) return
      this.pid = pid
      hooks.running(pid)
    }, (err: Error) => hooks.failed(err))
  }

  /** Check the work dir's size every `interval` ms while the run lasts; `over` is told each time it goes past `limit`. */
  watchDisk (dir: string, limit: number, interval: number, over: (used: number) => void): void {
    let past = false
    this.disk = setInterval(() => {
      diskUsage(dir).then(used => {
        if (used > limit && !past) over(used)
        past = used > limit
      }, () => {})
    }, interval)
    this.disk.unref()
  }

  /** Stop the run: TERM, then KILL past `grace` ms. Resolves when nothing of it runs any more. */
  async stop (grace: number): Promise<void> {
    const child = this.child
    // The reported pid is the sandbox's init (pid 1 inside), which ignores SIGTERM: TERM its
    // children, the workload; past the grace, KILL everything of it (the init takes the pid
    // namespace along). stop() resolves when the run is over: every process of it gone (exited).
    const init = this.pid
    const sandboxed = init !== null && init !== child.pid
    const kill = (): void => { this.sandbox.kill() }
    try {
      if (!sandboxed) child.kill('SIGTERM')
      else {
        // No child yet: the workload has not been exec'd, there is nothing to shut down gracefully.
        const kids = childrenOf(init)
        if (kids.length === 0) kill()
        for (const pid of kids) process.kill(pid, 'SIGTERM')
      }
    } catch {}
    const timer = setTimeout(kill, grace)
    await this.exited
    clearTimeout(timer)
  }
}
