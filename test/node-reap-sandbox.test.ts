import fs from 'fs'
import path from 'path'
import { testnet } from './helpers/net'
import { market } from './helpers/ledger'
import { nodeDaemon, tmpDir } from './helpers/node'
import { sandboxTest, orphanSandboxes } from './helpers/sandbox'
import { processes, running } from '../lib/proc'
import { boundWorkDir, buildLaunch } from '../node/launch'

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
