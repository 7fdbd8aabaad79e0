/**
 * Tests that need bubblewrap. On a machine without it they are skipped, and
 * each file of them says so once, with how to install it; a test that tried anyway
 * would throw, and a thrown error ends brittle with every later test lost.
 * SCIT_REQUIRE_SANDBOX=1 (CI) makes them mandatory: each fails instead.
 */
import test from 'brittle'
import type { Assert, TestOptions } from 'brittle'
import path from 'path'
import { spawn } from 'child_process'
import { sandboxAvailable, reaped, REAP_BOUND } from '../../node/sandbox'
import { sweepCgroups } from '../../node/cgroup'
import { proc, running, type Proc } from '../../lib/proc'
import { endChild, tieToRunner } from './child'

const REQUIRED = process.env.SCIT_REQUIRE_SANDBOX === '1'
let said = false

export function sandboxTest(name: string, fn: (t: Assert) => unknown): void
export function sandboxTest(name: string, opts: TestOptions, fn: (t: Assert) => unknown): void
export function sandboxTest(
  name: string,
  a: TestOptions | ((t: Assert) => unknown),
  b?: (t: Assert) => unknown
): void {
  const opts = typeof a === 'function' ? {} : a
  const fn = typeof a === 'function' ? a : (b as (t: Assert) => unknown)
  const sandbox = sandboxAvailable()
  if (sandbox.ok || opts.skip === true) return test(name, opts, fn)
  if (REQUIRED) {
    return test(name, opts, (t) => {
      t.fail(
        `this test needs a working sandbox, and SCIT_REQUIRE_SANDBOX=1 makes it mandatory: ${sandbox.reason ?? ''}`
      )
    })
  }
  if (!said) {
    said = true
    process.stdout.write(
      `# SKIPPING every test that needs the sandbox: ${sandbox.reason ?? ''}. Install it (apt-get install -y bubblewrap) to run them; SCIT_REQUIRE_SANDBOX=1 makes them fail instead\n`
    )
  }
  test(name, { ...opts, skip: true }, fn)
}

/** What a node killed while bwrap set up leaves of one sandbox: bwrap's outer process and the sandbox's init, both orphans. */
export interface Orphan {
  workDir: string
  launcher: Proc
  init: Proc
  /** Its cgroup (pids controller), named for the dead node; null without cgroups. */
  cgroup: string | null
}

/**
 * Leave a sandbox running `sleep` for each of `workDirs`, as a node SIGKILLed
 * as bwrap set up does: started, with its cgroup, by a child process that is
 * then killed. bwrap is started without --die-with-parent, which does not
 * cover that window, so the orphans are certain rather than likely. Each is
 * SIGKILLed at teardown, and its cgroup removed.
 */
export async function orphanSandboxes(t: Assert, workDirs: string[]): Promise<Orphan[]> {
  const dist = path.join(__dirname, '..', '..', 'node')
  const script = `
    const fs = require('fs')
    const path = require('path')
    const { spawn } = require('child_process')
    const { buildLaunch, ARGS_FD, INFO_FD } = require(${JSON.stringify(path.join(dist, 'launch.js'))})
    const { mkdirTraversable } = require(${JSON.stringify(path.join(dist, 'sandbox.js'))})
    const { Cgroup } = require(${JSON.stringify(path.join(dist, 'cgroup.js'))})
    const start = (workDir) => new Promise((resolve) => {
      mkdirTraversable(path.dirname(workDir))
      fs.mkdirSync(workDir, { mode: 0o700 })
      const l = buildLaunch({ workDir, command: ['/usr/bin/sleep', '1000'], env: {}, memory: 0, cpu: 0 })
      if (l.uid !== undefined) fs.chownSync(workDir, l.uid, l.gid)
      const cgroup = Cgroup.create(path.basename(workDir), { memory: 0, cpu: 0, pids: 64 })
      const spawnIt = () => spawn(l.file, l.args.filter((a) => a !== '--die-with-parent'), {
        cwd: '/', env: l.env, uid: l.uid, gid: l.gid, stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe']
      })
      const c = cgroup === null ? spawnIt() : cgroup.spawnInside(spawnIt)
      c.stdio[ARGS_FD].end(l.fdArgs)
      let info = ''
      c.stdio[INFO_FD].on('data', (d) => { info += d })
      c.stdio[INFO_FD].on('end', () => {
        const m = /"child-pid"\\s*:\\s*(\\d+)/.exec(info)
        resolve({ workDir, launcher: c.pid, init: m ? Number(m[1]) : 0, cgroup: cgroup && cgroup.dirs.pids })
      })
    })
    Promise.all(JSON.parse(process.argv[1]).map(start)).then((r) => console.log(JSON.stringify(r)))
  `
  const child = tieToRunner(
    spawn(process.execPath, ['-e', script, JSON.stringify(workDirs)], {
      stdio: ['ignore', 'pipe', 'inherit']
    })
  )
  const orphans: Orphan[] = []
  t.teardown(async () => {
    await endChild(child, 'SIGKILL')
    for (const o of orphans)
      for (const p of [o.init, o.launcher]) if (running(p)) process.kill(p.pid, 'SIGKILL')
    for (const o of orphans) for (const p of [o.init, o.launcher]) await reaped(p, REAP_BOUND)
    sweepCgroups() // theirs, named for the dead child
  })
  let out = ''
  await new Promise<void>((resolve) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve()
    })
    child.once('exit', () => resolve())
  })
  if (!out.includes('\n')) throw new Error('the sandboxes to orphan did not start')
  const started = JSON.parse(out) as Array<{
    workDir: string
    launcher: number
    init: number
    cgroup: string | null
  }>
  // read before the child dies: its start time tells each apart from a later process given its pid
  for (const s of started) orphans.push({ ...s, launcher: proc(s.launcher), init: proc(s.init) })
  await endChild(child, 'SIGKILL')
  return orphans
}
