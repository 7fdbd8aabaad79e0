import test from 'brittle'
import fs from 'fs'
import net from 'net'
import path from 'path'
import { sandboxAvailable, spawnSandboxed } from '../node/sandbox'
import { buildLaunch, cpuList, SANDBOX_UID } from '../node/launch'
import { isScitError } from '../lib/errors'
import { MiB } from '../lib/resources'
import { runSandboxed, nodeScript, tmpDir } from './helpers/node'
import { sandboxTest } from './helpers/sandbox'

const root = process.getuid?.() === 0

sandboxTest('bubblewrap is available and can build a sandbox here', (t) => {
  const a = sandboxAvailable()
  t.ok(a.ok, a.reason ?? 'sandbox works')
})

sandboxTest('a sandboxed process sees only its own pid namespace in /proc', async (t) => {
  const r = await runSandboxed(t, {
    command: nodeScript(
      'const fs=require("fs");console.log(JSON.stringify({pid:process.pid,pids:fs.readdirSync("/proc").filter(x=>/^\\d+$/.test(x)).map(Number)}))'
    )
  })
  t.is(r.code, 0, r.stderr)
  const seen = JSON.parse(r.stdout) as { pid: number; pids: number[] }
  t.ok(seen.pids.length <= 2, `only the sandbox init and itself: ${JSON.stringify(seen.pids)}`)
  t.ok(seen.pids.includes(seen.pid))
  t.absent(
    seen.pids.includes(process.pid) && process.pid > 2,
    'the host test runner is not visible'
  )
  t.ok(
    r.pid !== null && r.pid !== seen.pid,
    `host pid ${String(r.pid)} differs from the pid inside (${seen.pid})`
  )
})

sandboxTest('a sandboxed process can write its work dir and nothing else', async (t) => {
  const dataDir = await tmpDir(t)
  fs.writeFileSync(path.join(dataDir, 'identity.json'), 'secret')
  const targets = [
    '/etc/scit-pwned',
    '/usr/scit-pwned',
    '/scit-pwned',
    path.join(dataDir, 'pwned'),
    path.join(dataDir, 'identity.json'),
    '/proc/sys/kernel/hostname'
  ]
  const r = await runSandboxed(t, {
    command: nodeScript(
      `const fs=require("fs");const out={};for(const p of ${JSON.stringify(targets)}){try{fs.writeFileSync(p,"x");out[p]="written"}catch(e){out[p]=e.code}};fs.writeFileSync("/work/ok","yes");fs.writeFileSync("/tmp/ok","yes");console.log(JSON.stringify(out))`
    )
  })
  t.is(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout) as Record<string, string>
  for (const p of targets) t.not(out[p], 'written', `${p}: ${out[p]}`)
  t.is(
    fs.readFileSync(path.join(dataDir, 'identity.json'), 'utf8'),
    'secret',
    'the data dir is untouched'
  )
  t.absent(fs.existsSync('/etc/scit-pwned'))
})

sandboxTest(
  'the work dir is the only host directory written, owned by the sandbox user',
  async (t) => {
    const dir = path.join(await tmpDir(t), 'w')
    const r = await runSandboxed(t, {
      workDir: dir,
      command: nodeScript('require("fs").writeFileSync("/work/out.txt","hello")')
    })
    t.is(r.code, 0, r.stderr)
    t.is(fs.readFileSync(path.join(dir, 'out.txt'), 'utf8'), 'hello')
    if (root)
      t.is(
        fs.statSync(path.join(dir, 'out.txt')).uid,
        SANDBOX_UID,
        'written as the unprivileged sandbox uid'
      )
  }
)

sandboxTest(
  'a sandboxed process has no capabilities, no new privileges, no nested user namespaces',
  async (t) => {
    const r = await runSandboxed(t, {
      command: nodeScript(
        'const s=require("fs").readFileSync("/proc/self/status","utf8");const g=k=>s.split("\\n").find(l=>l.startsWith(k)).split(/\\s+/)[1];let userns="allowed";try{require("child_process").execFileSync("/usr/bin/unshare",["-U","/usr/bin/true"],{stdio:"ignore"})}catch{userns="refused"};console.log(JSON.stringify({eff:g("CapEff:"),bnd:g("CapBnd:"),nnp:g("NoNewPrivs:"),userns}))'
      )
    })
    t.is(r.code, 0, r.stderr)
    const s = JSON.parse(r.stdout) as Record<string, string>
    t.is(s.eff, '0000000000000000', 'no effective capabilities')
    t.is(s.nnp, '1', 'no_new_privs')
    t.is(s.userns, 'refused', 'cannot create a user namespace to regain capabilities')
  }
)

sandboxTest(
  'a workload has no network: the host loopback is not reachable, only a private loopback',
  async (t) => {
    const server = net.createServer((sock) => sock.end('hi'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const port = (server.address() as net.AddressInfo).port
    const probe = nodeScript(
      `const os=require("os");const s=require("net").connect(${port},"127.0.0.1");s.on("data",d=>{console.log(JSON.stringify({connect:d.toString(),ifs:Object.keys(os.networkInterfaces())}));s.destroy()});s.on("error",e=>console.log(JSON.stringify({connect:e.code,ifs:Object.keys(os.networkInterfaces())})))`
    )
    const isolated = await runSandboxed(t, { command: probe })
    t.is(isolated.code, 0, isolated.stderr)
    const a = JSON.parse(isolated.stdout) as { connect: string; ifs: string[] }
    t.is(a.connect, 'ECONNREFUSED', 'the host loopback is not reachable')
    t.alike(a.ifs, ['lo'], 'only a private loopback')
  }
)

sandboxTest('a sandboxed process gets only the declared environment', async (t) => {
  process.env.SCIT_TEST_SECRET = 'host secret'
  t.teardown(() => {
    delete process.env.SCIT_TEST_SECRET
  })
  const r = await runSandboxed(t, {
    command: nodeScript('console.log(JSON.stringify(process.env))'),
    env: { GREETING: 'hello' }
  })
  t.is(r.code, 0, r.stderr)
  const env = JSON.parse(r.stdout) as Record<string, string>
  t.alike(
    Object.keys(env).sort(),
    ['GREETING', 'HOME', 'PATH', 'PWD', 'TMPDIR'],
    'PWD is set by bwrap --chdir'
  )
  t.is(env.GREETING, 'hello')
})

sandboxTest(
  "the workload's environment is on no command line, and the launcher runs with an empty environment",
  async (t) => {
    const secret = `s3cret-${process.pid}-${Date.now()}`
    const s = spawnSandboxed({
      workDir: path.join(await tmpDir(t), 'w'),
      command: nodeScript('console.log(JSON.stringify(process.env)); setInterval(() => {}, 1000)'),
      env: { API_TOKEN: secret },
      memory: 0,
      cpu: 0
    })
    t.teardown(async () => {
      s.kill()
      await s.gone
    })
    const seen = await new Promise<Record<string, string>>((resolve, reject) => {
      let out = ''
      s.process.stdout?.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes('\n')) resolve(JSON.parse(out) as Record<string, string>)
      })
      s.process.once('close', (code) => reject(new Error(`exited ${String(code)} before printing`)))
    })
    t.is(seen.API_TOKEN, secret, 'the workload sees its variable')
    // While it runs: the launcher (prlimit, exec'd down to bwrap) and the sandbox's init, as any user sees them.
    const init = await s.childPid
    const cmdline = (pid: number): string => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    const launcher = cmdline(s.process.pid as number)
    t.ok(
      launcher.includes('--clearenv') && launcher.includes('--args'),
      `the launcher is bwrap: ${launcher.split('\0').slice(0, 3).join(' ')} …`
    )
    t.absent(launcher.includes(secret), "the value is not on the launcher's command line")
    t.absent(launcher.includes('API_TOKEN'), 'nor is its name')
    t.absent(cmdline(init).includes(secret), "nor on the sandbox init's")
    t.is(
      fs.readFileSync(`/proc/${s.process.pid as number}/environ`, 'utf8'),
      '',
      'the launcher, which runs outside the sandbox, has no environment a contract could set (no LD_PRELOAD on the host)'
    )
  }
)

sandboxTest('the memory limit stops a process that allocates past it', async (t) => {
  const grow = nodeScript(
    'const a=[];for(let i=0;i<64;i++){a.push(Buffer.alloc(16*1024*1024,1))};console.log("survived 1GiB")'
  )
  const limited = await runSandboxed(t, { command: grow, memory: 256 * MiB })
  t.not(limited.code, 0, `exit ${String(limited.code)} ${String(limited.signal)}`)
  t.absent(limited.stdout.includes('survived'), 'it never got its 1GiB')
  const free = await runSandboxed(t, { command: grow, memory: 0 })
  t.ok(free.stdout.includes('survived'), 'the same program runs without the limit')
})

sandboxTest('argv goes to the workload verbatim: no shell ever parses it', async (t) => {
  const dir = path.join(await tmpDir(t), 'w')
  const evil = '$(touch /work/pwned); `touch /work/pwned2` && echo hi > /work/pwned3'
  const r = await runSandboxed(t, { workDir: dir, command: ['/usr/bin/echo', evil] })
  t.is(r.stdout, evil + '\n')
  t.alike(fs.readdirSync(dir), [], 'nothing was run')
})

sandboxTest('commands must be absolute and env names valid', (t) => {
  const base = { workDir: '/tmp/x', env: {}, memory: 0, cpu: 0 }
  for (const [what, fn] of [
    ['relative command', () => buildLaunch({ ...base, command: ['ls'] })],
    ['empty command', () => buildLaunch({ ...base, command: [] })],
    [
      'bad env name',
      () => buildLaunch({ ...base, command: ['/usr/bin/true'], env: { 'A=B': 'x' } })
    ]
  ] as const) {
    try {
      fn()
      t.fail(`${what}: accepted`)
    } catch (err) {
      t.ok(isScitError(err, 'SANDBOX'), what)
    }
  }
  const l = buildLaunch({ ...base, command: ['/usr/bin/true'] })
  for (const flag of [
    '--unshare-pid',
    '--unshare-net',
    '--unshare-user',
    '--disable-userns',
    '--die-with-parent',
    '--new-session',
    '--clearenv'
  ])
    t.ok(l.args.includes(flag), flag)
  t.ok(
    buildLaunch({
      ...base,
      command: ['/usr/bin/true'],
      bridge: { ports: [8080], token: '00' }
    }).args.includes('--unshare-net'),
    'a service too: its own network namespace'
  )
})

test('cpu pinning takes whole cpus from the last one', (t) => {
  t.is(cpuList(0, 8), null)
  t.is(cpuList(500, 8), '7')
  t.is(cpuList(2000, 8), '6-7')
  t.is(cpuList(8000, 8), null, 'all cpus: no pinning')
})
