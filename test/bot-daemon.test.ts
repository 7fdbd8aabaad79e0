import fs from 'fs'
import path from 'path'
import { testnet } from './helpers/net'
import { world, node } from './helpers/deploy'
import { common, funded } from './helpers/cli'
import { sandboxTest } from './helpers/sandbox'
import { botRun, scitProcess, TimedRun as Run } from './helpers/bot-process'
import { generateKeyPair } from '../lib/identity'
import { encodeKey } from '../lib/keys'

/** A service on port 8080 (so grant and revoke mean something), one replica. */
function webTemplate(dir: string): string {
  fs.writeFileSync(
    path.join(dir, 'server.js'),
    'require("http").createServer((q, s) => s.end("hi")).listen(8080); console.log("up", process.env.GREETING)\n'
  )
  const file = path.join(dir, 'web.yaml')
  fs.writeFileSync(
    file,
    [
      'name: web',
      'version: 1',
      'parameters:',
      '  greeting: { type: string, default: hello }',
      'workloads:',
      '  - name: app',
      '    kind: service',
      '    files: [server.js]',
      '    command: [node, server.js]',
      '    env: { GREETING: "${greeting}" }',
      '    ports: [8080]',
      '    resources: { cpu: 500m, memory: 256MiB }',
      'duration: 1h',
      'budget: 100'
    ].join('\n') + '\n'
  )
  return file
}

/** What of `status --json` does not move between two reads (pings and signing times do). */
function stable(r: Run): unknown {
  return (JSON.parse(r.stdout) as Array<Record<string, unknown>>).map((d) => ({
    id: d.id,
    contract: d.contract,
    phase: d.phase,
    trades: d.trades,
    states: ((d.replicas ?? []) as Array<{ state: string; trade: string }>).map((x) => [
      x.trade,
      x.state
    ])
  }))
}

sandboxTest(
  'every scit bot command works beside a running scit bot run, served by it, with the output and exit code it has alone',
  { timeout: 600_000 },
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    await node(t, w)
    const { data } = await funded(t, w.founder)
    const file = webTemplate(await t.tmp())
    const flags = common(net, w.founder, data)
    // approvals reads a contract: it takes no --market
    const bot = (...args: string[]): Promise<Run> =>
      scitProcess(['bot', ...args, ...(args[0] === 'approvals' ? common(net, null, data) : flags)])
    // a lease the length of the contract would be renewed at once
    const run = [...flags, '--interval', '500ms', '--renew-before', '0']
    const ended = (r: Run, what: string): void =>
      t.not(r.code, -1, `${what} ended by itself (${r.ms} ms), it did not hang`)

    const daemon = await botRun(t, run)
    t.ok(
      daemon.events().includes(path.join(data, 'bot', 'control.sock')),
      'bot run says where it serves'
    )

    const dep = await bot('deploy', file, '--id', 'web', '--wait', 'running', '--json')
    ended(dep, 'deploy')
    t.is(dep.code, 0, `deploy through bot run: ${dep.stderr}`)
    t.is(JSON.parse(dep.stdout).phase, 'running')
    t.ok(/→ settle/.test(dep.stderr) && /→ deploy/.test(dep.stderr), 'its progress lines')
    await daemon.waitFor(/ deploy +web: files and the deploy instruction signed/)
    t.pass('bot run logs the deployment it served, one line per event')

    // `running` is signed as the workload starts; its first line reaches the node's log a moment later
    let logs = await bot('logs', 'web')
    for (let i = 0; i < 30 && logs.code === 0 && !/stdout up hello/.test(logs.stdout); i++) {
      await new Promise((resolve) => setTimeout(resolve, 500))
      logs = await bot('logs', 'web')
    }
    ended(logs, 'logs')
    t.ok(/stdout up hello/.test(logs.stdout), `logs: the workload's output ${logs.stderr}`)
    const state = await bot('state', 'web')
    t.is(state.code, 0, state.stderr)
    const someone = encodeKey(generateKeyPair().publicKey)
    const grant = await bot('grant', 'web', someone)
    t.ok(grant.code === 0 && /^granted: /.test(grant.stdout), `grant ${grant.stderr}`)
    const revoke = await bot('revoke', 'web', someone)
    t.ok(revoke.code === 0 && /^revoked: /.test(revoke.stdout), `revoke ${revoke.stderr}`)
    const scale = await bot('scale', 'web', '1')
    t.is(scale.code, 0, `scale ${scale.stderr}`)
    const update = await bot('update', 'web', '--set', 'greeting=hi', '--json')
    t.is(update.code, 0, `update ${update.stderr}`)
    t.is(JSON.parse(update.stdout).params.greeting, 'hi')

    const served: Record<string, Run> = {}
    const compare: Array<[string, string[]]> = [
      ['status', ['status', 'web', '--json']],
      ['approvals', ['approvals', 'web']],
      ['unknown contract', ['stop', 'nope']],
      ['scale to 0', ['scale', 'web', '0']],
      ['grant a bad key', ['grant', 'web', 'not-a-key']]
    ]
    for (const [what, args] of compare) {
      served[what] = await bot(...args)
      ended(served[what], what)
    }
    t.is(served.status.code, 0, served.status.stderr)
    const replica = JSON.parse(served.status.stdout)[0].replicas[0]
    t.is(replica.state, 'running', 'status: what the node signed about its replica')
    t.ok(replica.since !== null && replica.reachable, 'signed when, and the node reached')
    t.ok(/weight 0 of 0 \(reached\)/.test(served.approvals.stdout), served.approvals.stderr)

    t.is(await daemon.stop(), 0, 'Ctrl-C stops bot run, exit 0')
    for (const [what, args] of compare) {
      const alone = await bot(...args)
      ended(alone, what)
      const s = served[what]
      t.is(s.code, alone.code, `${what}: the same exit code (${alone.code})`)
      if (what === 'status') t.alike(stable(s), stable(alone), 'status: the same contracts')
      else t.alike([s.stdout, s.stderr], [alone.stdout, alone.stderr], `${what}: the same output`)
    }

    const again = await botRun(t, run)
    const stop = await bot('stop', 'web', '--json')
    ended(stop, 'stop')
    t.is(stop.code, 0, stop.stderr)
    t.ok(
      JSON.parse(stop.stdout).trades.every((x: { lease: string }) => x.lease === 'closed'),
      'stop through bot run closed the lease'
    )
    await again.waitFor(/ close +web: trade .*refunded/)
    t.pass('bot run logs the lease it closed, with the refund')
    t.is(await again.stop(), 0)
  }
)
