/**
 * V8 CPU profiles of chosen windows of a bench process's main thread (market-sim: the real-time window of the
 * indexers and of a following node), not of its whole life as --cpu-prof writes.
 */
import fs from 'fs'
import path from 'path'
import inspector from 'inspector'

/** With a directory: each call ends the profile begun by the last (written there as NAME-PID-N) and begins the next. */
export function profileWindows(dir: string | undefined, name: string): () => void {
  if (dir === undefined || dir === '') return () => {}
  const session = new inspector.Session()
  session.connect()
  session.post('Profiler.enable')
  let on = false
  let n = 0
  return () => {
    if (on)
      session.post('Profiler.stop', (err, r) => {
        if (err === null)
          fs.writeFileSync(
            path.join(dir, `${name}-${process.pid}-${++n}.cpuprofile`),
            JSON.stringify(r.profile)
          )
      })
    session.post('Profiler.start')
    on = true
  }
}

/** CPU_PROF=<dir>: node flags for a whole-life V8 CPU profile of a bench's child process, written as it exits. */
export function cpuProfFlags(): string[] {
  const dir = process.env.CPU_PROF
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []
}
