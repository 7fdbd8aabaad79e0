import test from 'brittle'
import fs from 'fs'
import path from 'path'
import net from 'net'
import { StreamDigest, Tail } from '../node/output'
import { backoffDelay, digestOutput } from '../node/workload'
import { tmpDir, supervisor, spec, transition, gone } from './helpers/node'
import { sandboxTest } from './helpers/sandbox'

function blake(data: string): Buffer {
  const d = new StreamDigest()
  d.update(Buffer.from(data))
  return d.digest()
}

sandboxTest(
  'a job runs in the sandbox and reports its exit code and the digests of its stdout and output file',
  async (t) => {
    const root = await tmpDir(t)
    const s = supervisor(t, root)
    const job = spec('job-1', {
      command: [
        'node',
        '-e',
        'require("fs").writeFileSync("/work/result.txt", "42\\n"); console.log("computed")'
      ],
      output: 'result.txt'
    })
    const states: string[] = []
    s.on('transition', (tr) => {
      if (tr.id === 'job-1') states.push(tr.state)
    })
    const done = transition(s, 'job-1', (tr) => tr.state === 'exited' || tr.state === 'failed')
    await s.start(job)
    const tr = await done
    t.is(tr.state, 'exited', tr.reason)
    t.is(tr.exitCode, 0)
    t.alike(tr.stdout, blake('computed\n'), 'stdout digest')
    t.alike(tr.output, blake('42\n'), 'output file digest')
    t.alike(states, ['starting', 'running', 'exited'])
    t.is(s.tail('job-1').stdout, 'computed\n')
  }
)

sandboxTest(
  'a job that fails is reported failed with its exit code and is not restarted',
  async (t) => {
    const s = supervisor(t, await tmpDir(t))
    const done = transition(s, 'job-2', (tr) => tr.state === 'exited' || tr.state === 'failed')
    await s.start(spec('job-2', { command: ['node', '-e', 'process.exit(3)'] }))
    const tr = await done
    t.is(tr.state, 'failed')
    t.is(tr.exitCode, 3)
    t.is(s.get('job-2')?.restarts, 0)
  }
)

sandboxTest(
  'a service killed from outside restarts, and stop() leaves nothing running',
  async (t) => {
    const s = supervisor(t, await tmpDir(t))
    const svc = spec('svc-1', {
      kind: 'service',
      command: ['node', '-e', 'setInterval(() => {}, 1000)']
    })
    const first = transition(s, 'svc-1', (tr) => tr.state === 'running')
    await s.start(svc)
    const pid1 = (await first).pid
    t.ok(pid1 !== null && pid1 > 0, `running as host pid ${String(pid1)}`)
    const crashed = transition(s, 'svc-1', (tr) => tr.state === 'failed')
    const again = transition(s, 'svc-1', (tr) => tr.state === 'running' && tr.restarts === 1)
    process.kill(pid1 as number, 'SIGKILL')
    const c = await crashed
    t.ok(c.backoff !== null, `restart scheduled in ${String(c.backoff)}ms (${c.reason})`)
    const pid2 = (await again).pid
    t.ok(pid2 !== null && pid2 !== pid1, `restarted as host pid ${String(pid2)}`)
    const stopped = transition(s, 'svc-1', (tr) => tr.state === 'stopped')
    await s.stop('svc-1', 'contract stopped')
    t.is((await stopped).reason, 'contract stopped')
    t.ok(gone(pid2 as number), 'the workload process is gone')
    t.is(s.get('svc-1')?.state, 'stopped')
  }
)

sandboxTest('a crash-looping service backs off exponentially', async (t) => {
  const s = supervisor(t, await tmpDir(t), {
    backoff: { initial: 10, max: 10_000, stable: 60_000 }
  })
  const delays: number[] = []
  const enough = new Promise<void>((resolve) =>
    s.on('transition', (tr) => {
      if (tr.id !== 'crash' || tr.backoff === null) return
      delays.push(tr.backoff)
      if (delays.length === 4) resolve()
    })
  )
  await s.start(spec('crash', { kind: 'service', command: ['/usr/bin/false'] }))
  await enough
  await s.stop('crash')
  t.alike(delays, [10, 20, 40, 80])
  t.is(backoffDelay(20, 10, 10_000), 10_000, 'capped')
})

sandboxTest(
  'a service listens on its declared port in its own namespace, reached only through its bridge socket, which says its token first',
  async (t) => {
    const s = supervisor(t, await tmpDir(t))
    const svc = spec('web', {
      kind: 'service',
      ports: [8080],
      command: [
        'node',
        '-e',
        'require("http").createServer((q, r) => r.end("port " + process.env.PORT_8080)).listen(Number(process.env.PORT), () => console.log("listening"))'
      ]
    })
    const listening = new Promise<void>((resolve) =>
      s.on('log', (e) => {
        if (e.id === 'web' && e.data.toString().includes('listening')) resolve()
      })
    )
    const running = transition(s, 'web', (tr) => tr.state === 'running')
    await s.start(svc)
    const tr = await running
    t.is(tr.ports.length, 1)
    const ep = s.get('web')?.endpoints[0]
    if (!ep?.socket || !ep.token) return t.fail('no bridge socket')
    t.is(ep.tcp, null, 'no host port')
    await listening
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const sock = net.connect(ep.socket as string)
      let got = Buffer.alloc(0)
      sock.on('data', (d) => {
        got = Buffer.concat([got, d])
      })
      sock.on('end', () => resolve(got))
      sock.on('error', reject)
      sock.end('GET / HTTP/1.0\r\n\r\n')
    })
    t.alike(reply.subarray(0, 16), ep.token, 'the bridge says its token first')
    t.ok(
      reply.subarray(16).toString().endsWith('port 8080'),
      'then the service answers, on its declared port'
    )
    await s.stop('web')
  }
)

sandboxTest('stopping every workload on close leaves no process behind', async (t) => {
  const root = await tmpDir(t)
  const s = supervisor(t, root)
  const pids: number[] = []
  const cgroups: string[] = []
  for (const id of ['a', 'b']) {
    const running = transition(s, id, (tr) => tr.state === 'running')
    await s.start(
      spec(id, {
        kind: 'service',
        command: ['node', '-e', 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000)']
      })
    )
    pids.push((await running).pid as number)
    cgroups.push(s.get(id)?.cgroup ?? '')
  }
  await s.close()
  // The pids are the sandboxes' inits: bwrap's outer process may exit before its init is gone, close() must not.
  for (const pid of pids) t.ok(gone(pid), `pid ${pid} gone (even one that ignores SIGTERM)`)
  for (const cg of cgroups.filter(Boolean))
    t.absent(fs.existsSync(cg), `its cgroup ${path.basename(cg)} is removed`)
  t.alike(
    ['a', 'b'].map((id) => s.get(id)?.state),
    ['stopped', 'stopped']
  )
})

sandboxTest('disk use past the lease is reported', async (t) => {
  const s = supervisor(t, await tmpDir(t), { diskInterval: 50 })
  const over = new Promise<{ used: number; limit: number }>((resolve) =>
    s.on('disk', (e) => resolve(e))
  )
  await s.start(
    spec('filler', {
      kind: 'service',
      resources: { cpu: 500, memory: 0, ssd: 1024 * 1024, hdd: 0, ipv4: 0, gpu: 0 },
      command: [
        'node',
        '-e',
        'require("fs").writeFileSync("/work/big", Buffer.alloc(4 * 1024 * 1024, 1)); setInterval(() => {}, 1000)'
      ]
    })
  )
  const e = await over
  t.ok(e.used > e.limit, `${e.used} > ${e.limit}`)
  await s.stop('filler')
})

test('an output path that escapes the work dir is never read', async (t) => {
  const dir = await tmpDir(t)
  fs.writeFileSync(path.join(dir, 'secret'), 'host secret')
  const work = path.join(dir, 'w')
  fs.mkdirSync(work)
  fs.symlinkSync(path.join(dir, 'secret'), path.join(work, 'link'))
  fs.mkdirSync(path.join(work, 'sub'))
  fs.symlinkSync(dir, path.join(work, 'sub', 'up'))
  t.is(await digestOutput(work, 'link'), null, 'symlinked file')
  t.is(await digestOutput(work, 'sub/up/secret'), null, 'symlinked directory')
  await t.exception(digestOutput(work, '../secret'), /inside the work dir/)
  fs.writeFileSync(path.join(work, 'ok'), 'fine')
  t.alike(await digestOutput(work, 'ok'), blake('fine'))
})

test('the output tail keeps only the last bytes and counts what it dropped', (t) => {
  const tail = new Tail(10)
  tail.push(Buffer.from('0123456789'))
  tail.push(Buffer.from('abc'))
  t.is(tail.text(), '3456789abc')
  t.is(tail.dropped, 3)
  tail.push(Buffer.from('x'.repeat(25)))
  t.is(tail.text(), 'x'.repeat(10))
  t.is(tail.dropped, 28, 'everything but the last 10 bytes of the 38 pushed')
})
