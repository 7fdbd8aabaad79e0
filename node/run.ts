/** One run of a process workload, from spawn until nothing of it is left; what its end means is the supervisor's call. */
import fs from 'fs'
import type { ChildProcess } from 'child_process'
import { spawnSandboxed, diskUsage, Sandboxed } from './sandbox'
import type { SandboxSpec } from './launch'
import { StreamDigest } from './output'
import safetyCatch from 'safety-catch'

function childrenOf(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
  } catch {
    return []
  }
}

export interface RunEnd {
  code: number | null
  signal: NodeJS.Signals | null
  /** When it was spawned (ms since the epoch). */
  started: number
  stdout: StreamDigest
  /** The cgroup limits the kernel enforced on it, e.g. "pids limit (12 forks refused)". */
  limits: string[]
}

export interface RunHooks {
  output(stream: 'stdout' | 'stderr', data: Buffer): void
  /** bwrap has set up: the workload runs, as host `pid`. Not called once the process has exited. */
  running(pid: number): void
  /** The sandbox never started the workload; `exit` follows. */
  failed(err: Error): void
  exit(end: RunEnd): void
}

export class Run {
  readonly child: ChildProcess
  /** null: rlimits only. */
  readonly cgroup: string | null
  pid: number | null = null
  /** Resolves once every process of the run is gone. */
  readonly exited: Promise<void>
  private readonly sandbox: Sandboxed
  private disk: NodeJS.Timeout | null = null

  constructor(spec: SandboxSpec, hooks: RunHooks) {
    const started = Date.now()
    const out = new StreamDigest()
    const sandboxed = spawnSandboxed(spec)
    const child = sandboxed.process
    this.child = child
    this.sandbox = sandboxed
    this.cgroup = sandboxed.cgroup?.dirs.pids ?? null
    child.stdout?.on('data', (d: Buffer) => {
      out.update(d)
      hooks.output('stdout', d)
    })
    child.stderr?.on('data', (d: Buffer) => {
      hooks.output('stderr', d)
    })
    let over = false
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        // over when nothing is left, not when bwrap's outer process is: its init may outlive it
        sandboxed.gone.catch(safetyCatch).then(() => {
          over = true
          if (this.disk) clearInterval(this.disk)
          this.disk = null
          resolve()
          hooks.exit({ code, signal, started, stdout: out, limits: sandboxed.limitsHit() })
        })
      })
    })
    sandboxed.childPid.then(
      (pid) => {
        if (over || child.exitCode !== null || child.signalCode !== null) return
        this.pid = pid
        hooks.running(pid)
      },
      (err: Error) => hooks.failed(err)
    )
  }

  /** `over` is told each time the work dir passes `limit`. */
  watchDisk(dir: string, limit: number, interval: number, over: (used: number) => void): void {
    let past = false
    this.disk = setInterval(() => {
      diskUsage(dir).then(
        (used) => {
          if (used > limit && !past) over(used)
          past = used > limit
        },
        () => {}
      )
    }, interval)
    this.disk.unref()
  }

  /** TERM, then KILL past `grace` ms. Resolves when nothing of it runs. */
  async stop(grace: number): Promise<void> {
    const child = this.child
    // The reported pid is the sandbox's init, which ignores SIGTERM: TERM its children,
    // then KILL everything (the init takes the pid namespace along).
    const init = this.pid
    const sandboxed = init !== null && init !== child.pid
    const kill = (): void => {
      this.sandbox.kill()
    }
    try {
      if (!sandboxed) child.kill('SIGTERM')
      else {
        // not exec'd yet: nothing to shut down gracefully
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
