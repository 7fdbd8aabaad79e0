import test from 'brittle'
import fs from 'fs'
import path from 'path'
import { cgroupBases } from '../node/cgroup'
import {
  supervisor,
  spec,
  transition,
  nodeScript,
  tmpDir,
  runSandboxed,
  gone
} from './helpers/node'
import { MiB } from '../lib/resources'
import { sandboxTest } from './helpers/sandbox'

const available = cgroupBases() !== null
const PIDS = 32

function read(dir: string, file: string): string {
  try {
    return fs.readFileSync(path.join(dir, file), 'utf8')
  } catch {
    return ''
  }
}

test('cgroups are used where the node may write them', { skip: process.getuid?.() !== 0 }, (t) => {
  t.ok(available, 'root with writable cgroup v1 controllers: whole-workload limits are on')
})

sandboxTest(
  'the pids limit refuses forks past it: a workload that forks until it cannot stops at the limit',
  { skip: !available },
  async (t) => {
    const root = await tmpDir(t)
    const s = supervisor(t, root, { pids: PIDS })
    const code = `
    const { spawn } = require('child_process'); let n = 0
    const done = e => { console.log('refused after ' + n + ': ' + e.code); process.exit(0) }
    const more = () => { try { const c = spawn('/usr/bin/sleep', ['600']); c.once('error', done); c.once('spawn', () => { n++; more() }) } catch (e) { done(e) } }
    more()`
    const exited = transition(s, 'forker', (tr) => tr.state === 'exited' || tr.state === 'failed')
    await s.start(spec('forker', { command: nodeScript(code) }))
    const tr = await exited
    t.is(tr.state, 'exited', tr.reason)
    const out = s.tail('forker').stdout
    const m = /refused after (\d+): EAGAIN/.exec(out)
    t.ok(m !== null, `the kernel refused a fork: ${out.trim()}`)
    t.ok(
      m !== null && Number(m[1]) < PIDS,
      `fewer than ${PIDS} children (threads of the runtime count too)`
    )
    t.ok(/pids limit/.test(tr.reason), `reported: ${tr.reason}`)
  }
)

sandboxTest(
  'a fork bomb is held at the pids limit and stop() ends it and its cgroup',
  { skip: !available },
  async (t) => {
    const root = await tmpDir(t)
    const s = supervisor(t, root, { pids: PIDS })
    const running = transition(s, 'bomb', (tr) => tr.state === 'running')
    // The bomb starts in the background, then the shell execs: once forks are refused, the workload's main process
    // needs none of its own to stay alive (had it called b itself, its own fork could fail and it would exit 2).
    await s.start(
      spec('bomb', {
        kind: 'service',
        restart: 'never',
        command: ['/bin/sh', '-c', 'b() { b | b & }; b & exec /usr/bin/sleep 600']
      })
    )
    const pid = (await running).pid as number
    const cg = s.get('bomb')?.cgroup ?? ''
    t.ok(cg !== '', `in cgroup ${cg}`)
    while (!/max [1-9]/.test(read(cg, 'pids.events')))
      await new Promise((resolve) => setTimeout(resolve, 50))
    const peak = Number(read(cg, 'pids.peak'))
    t.ok(peak <= PIDS, `at most ${peak} tasks at once: never more than ${PIDS}`)
    t.ok(peak > 4, 'the bomb was really forking')
    t.ok(Number(read(cg, 'pids.current')) <= PIDS)

    const stopped = transition(s, 'bomb', (tr) => tr.state === 'stopped')
    await s.stop('bomb', 'test over')
    await stopped
    t.ok(gone(pid), 'the workload is gone')
    t.absent(fs.existsSync(cg), 'stop() resolved after its cgroup was emptied and removed')
  }
)

sandboxTest(
  'the memory limit covers the whole workload, not one process',
  { skip: !available },
  async (t) => {
    // Four children of 96 MiB each: every one is under a per-process rlimit of 256 MiB, together they are not.
    const code = `
    const { fork } = require('child_process')
    if (process.argv[2] === 'child') { const b = Buffer.alloc(96 * 1024 * 1024, 1); process.send('ok'); setInterval(() => b[0]++, 100) }
    else { let ok = 0; for (let i = 0; i < 4; i++) { const c = fork(__filename, ['child']); c.on('message', () => { if (++ok === 4) { console.log('all held'); process.exit(0) } }); c.on('exit', (code, sig) => { if (sig) { console.log('child killed ' + sig); process.exit(3) } }) } }`
    const dir = await tmpDir(t)
    const work = path.join(dir, 'w')
    fs.mkdirSync(work, { recursive: true })
    fs.writeFileSync(path.join(work, 'm.js'), code)
    const r = await runSandboxed(t, {
      workDir: work,
      command: ['node', '/work/m.js'],
      memory: 256 * MiB
    })
    t.absent(
      r.stdout.includes('all held'),
      `the sum was refused: ${r.stdout.trim()} (exit ${String(r.code)} ${String(r.signal)})`
    )
    const free = await runSandboxed(t, {
      workDir: work,
      command: ['node', '/work/m.js'],
      memory: 1024 * MiB
    })
    t.ok(free.stdout.includes('all held'), 'the same workload fits a larger limit')
  }
)
