import fs from 'fs'
import path from 'path'
import { spawn } from 'child_process'
import test from 'brittle'
import type { Assert } from 'brittle'
import { testnet } from './helpers/net'
import { market } from './helpers/ledger'
import { nodeDaemon, tmpDir } from './helpers/node'
import { sandboxTest, orphanSandboxes } from './helpers/sandbox'
import { processes, running, proc, type Proc } from '../lib/proc'
import { boundWorkDir, buildLaunch } from '../node/launch'
import { reaped, REAP_BOUND } from '../node/sandbox'
import { endChild, tieToRunner } from './helpers/child'

/** Processes whose launch binds a work dir under `root`. */
function sandboxesIn(root: string): number[] {
  return processes()
    .filter((p) => path.dirname(boundWorkDir(p.argv) ?? '') === root)
    .map((p) => p.pid)
}

sandboxTest(
  "a node starting kills the sandboxes a killed run of its workloads root left, and no other node's",
  async (t) => {
    const base = await tmpDir(t)
    const mine = path.join(base, 'a', 'workloads')
    const other = path.join(base, 'b', 'workloads')
    const [left, kept] = await orphanSandboxes(t, [path.join(mine, 'w1'), path.join(other, 'w2')])
    t.ok(running(left.launcher) && running(left.init), 'the killed run left its sandbox')
    t.ok(running(kept.launcher) && running(kept.init), "another node's sandbox runs")

    const net = await testnet(t)
    const m = await market(t, net)
    await nodeDaemon(t, net, m.key, { workloads: mine })

    t.absent(running(left.launcher), "bwrap's outer process is gone")
    t.absent(running(left.init), 'the sandbox init is gone, and its pid namespace with it')
    t.alike(sandboxesIn(mine), [], 'nothing binds a work dir of the node any more')
    if (left.cgroup !== null) t.absent(fs.existsSync(left.cgroup), 'its cgroup is removed')
    t.ok(running(kept.launcher) && running(kept.init), "the other node's sandbox still runs")
    t.alike(
      sandboxesIn(other).sort(),
      [kept.launcher.pid, kept.init.pid].sort(),
      'its processes are all there'
    )
  }
)

sandboxTest("a launch's work dir is read from bwrap's options, never from its command", (t) => {
  const launch = buildLaunch({
    workDir: '/srv/a/workloads/w1',
    command: ['/usr/bin/bwrap', '--bind', '/srv/b/workloads/w2', '/work'],
    env: {},
    memory: 0,
    cpu: 0
  })
  const argv = [launch.file, ...launch.args]
  t.is(boundWorkDir(argv), '/srv/a/workloads/w1', 'the launcher, before it execs bwrap')
  t.is(
    boundWorkDir(argv.slice(argv.findIndex((a) => a.endsWith('/bwrap')))),
    '/srv/a/workloads/w1',
    'bwrap'
  )
  t.is(boundWorkDir(['/usr/bin/sleep', '1000']), null, 'a workload')
})

/**
 * Unsandboxed workloads (--unsafe-no-sandbox, `sleep 1000`) of `workDirs`, left running by a process that started
 * them and exited, as a node killed -9 leaves them. Each is SIGKILLed at teardown.
 */
async function orphanWorkloads(t: Assert, workDirs: string[]): Promise<Proc[]> {
  const dist = path.join(__dirname, '..', 'node')
  const script = `
    const fs = require('fs')
    const path = require('path')
    const { spawn } = require('child_process')
    const { buildLaunch } = require(${JSON.stringify(path.join(dist, 'launch.js'))})
    const { mkdirTraversable } = require(${JSON.stringify(path.join(dist, 'sandbox.js'))})
    const pids = JSON.parse(process.argv[1]).map((workDir) => {
      mkdirTraversable(path.dirname(workDir))
      fs.mkdirSync(workDir, { mode: 0o700 })
      const l = buildLaunch({ workDir, command: ['/usr/bin/sleep', '1000'], env: {}, memory: 0, cpu: 0, unsafeNoSandbox: true })
      if (l.uid !== undefined) fs.chownSync(workDir, l.uid, l.gid)
      const c = spawn(l.file, l.args, { cwd: l.cwd, env: l.env, uid: l.uid, gid: l.gid, detached: true, stdio: 'ignore' })
      c.unref()
      return c.pid
    })
    console.log(JSON.stringify(pids))
  `
  const child = tieToRunner(
    spawn(process.execPath, ['-e', script, JSON.stringify(workDirs)], {
      stdio: ['ignore', 'pipe', 'inherit']
    })
  )
  let out = ''
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  await new Promise((resolve) => child.once('exit', resolve))
  await endChild(child, 'SIGKILL')
  const left = (JSON.parse(out) as number[]).map((pid) => proc(pid))
  t.teardown(async () => {
    for (const p of left) if (running(p)) process.kill(p.pid, 'SIGKILL')
    for (const p of left) await reaped(p, REAP_BOUND)
  })
  return left
}

test("a node starting kills the unsandboxed workloads (--unsafe-no-sandbox) a killed run of its workloads root left, and no other node's", async (t) => {
  const base = await tmpDir(t)
  const mine = path.join(base, 'a', 'workloads')
  const other = path.join(base, 'b', 'workloads')
  const [left, kept] = await orphanWorkloads(t, [path.join(mine, 'w1'), path.join(other, 'w2')])
  t.ok(
    running(left) && running(kept),
    "the killed run left its workload running, beside another root's"
  )

  const net = await testnet(t)
  const m = await market(t, net)
  await nodeDaemon(t, net, m.key, { workloads: mine })
  t.absent(running(left), 'the workload left is gone')
  t.ok(running(kept), "the other root's still runs")
})
