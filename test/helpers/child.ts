/** Ending a child process at teardown without ever waiting forever on it. */
import type { ChildProcess } from 'child_process'

/**
 * Send `signal` (as a user or a service manager would), give it `grace` ms to exit on its own, then SIGKILL it.
 * Resolves with how it exited; null fields if even SIGKILL went unanswered for a second.
 */
export async function endChild(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  grace = 15_000
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const done = (): boolean => child.exitCode !== null || child.signalCode !== null
  const exited = new Promise<void>((resolve) => {
    if (done()) resolve()
    else child.once('exit', () => resolve())
  })
  const within = async (ms: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms)
    })
    const ok = await Promise.race([exited.then(() => true), late])
    clearTimeout(timer)
    return ok
  }
  if (!done()) {
    child.kill(signal)
    if (!(await within(grace))) {
      child.kill('SIGKILL')
      await within(1000)
    }
  }
  return { code: child.exitCode, signal: child.signalCode }
}

/**
 * SIGKILL `child` if this test process exits first: a runner ended by a timeout
 * (process.exit) must not leave it running, holding ports and CPU.
 */
export function tieToRunner(child: ChildProcess): ChildProcess {
  const kill = (): void => {
    child.kill('SIGKILL')
  }
  process.once('exit', kill)
  child.once('exit', () => process.off('exit', kill))
  return child
}
