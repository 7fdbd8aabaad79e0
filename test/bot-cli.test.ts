import fs from 'fs'
import path from 'path'
import { deploy } from '../bot/deployment'
import { testnet, swarm } from './helpers/net'
import Corestore from 'corestore'
import { world, node, bot, serviceTemplate, stakeholders, nodeState } from './helpers/deploy'
import { cmdRun } from '../bot/cli-daemon'
import { servedProgram } from '../bot/cli'
import { ContractSession } from '../bot/sign'
import { decodeKey } from '../lib/keys'
import { loadIdentity } from '../lib/identity'
import { encodeKey } from '../lib/keys'
import { scit, common, funded } from './helpers/cli'
import { sandboxTest } from './helpers/sandbox'

sandboxTest(
  'scit bot deploy --wait running, status --json and stop, as a user runs them',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    await node(t, w)
    await node(t, w)
    const { data } = await funded(t, w.founder)
    const file = await serviceTemplate(t, { replicas: 2 })

    const dep = await scit([
      'bot',
      'deploy',
      file,
      '--set',
      'greeting=hi',
      '--id',
      'cli',
      '--wait',
      'running',
      '--json',
      ...common(net, w.founder, data)
    ])
    t.is(dep.code, 0, dep.stderr)
    const out = JSON.parse(dep.stdout)
    t.is(out.phase, 'running')
    t.alike(
      out.replicas.map((r: { state: string }) => r.state),
      ['running', 'running'],
      'both replicas run'
    )
    for (const step of ['instantiate', 'bid', 'trade', 'settle', 'header', 'deploy'])
      t.ok(new RegExp(`→ ${step}`).test(dep.stderr), `progress line: ${step}`)

    const st = await scit(['bot', 'status', 'cli', '--json', ...common(net, w.founder, data)])
    t.is(st.code, 0, st.stderr)
    const status = JSON.parse(st.stdout)[0]
    t.is(status.trades.length, 2)
    t.alike(
      status.replicas.map((r: { state: string }) => r.state),
      ['running', 'running'],
      "each replica's state, as its node signed it"
    )
    t.ok(
      status.replicas.every(
        (r: { since: number | null; reachable: boolean; ping: number | null }) =>
          r.since !== null && r.reachable && r.ping !== null
      ),
      'with when it was signed, and the ping as liveness'
    )

    const stop = await scit(['bot', 'stop', 'cli', '--json', ...common(net, w.founder, data)])
    t.is(stop.code, 0, stop.stderr)
    t.is(JSON.parse(stop.stdout).phase, 'stopped')
    t.ok(
      JSON.parse(stop.stdout).trades.every((x: { lease: string }) => x.lease === 'closed'),
      'leases closed'
    )
  }
)

sandboxTest(
  'scit bot sign --yes hands a signature to a deploying bot; scit bot approvals shows the weight',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    await node(t, w)
    const b = await bot(t, w)
    const signer = await t.tmp()
    const key = loadIdentity(signer)
    const other = stakeholders(1)[0]
    const file = await serviceTemplate(t, {
      replicas: 1,
      threshold: 1,
      stakeholders: [
        { key: key.publicKey, role: 'legal', weight: 1 },
        { key: other.publicKey, role: 'it', weight: 1 }
      ]
    })
    const waiting = new Promise<void>((resolve) =>
      b.events.on('progress', (s: string) => {
        if (s === 'approvals') resolve()
      })
    )
    const deploying = deploy(b, { template: file, id: 'cli-signed' })
    await waiting
    const contract = b.state.find('cli-signed').contract ?? ''

    const before = await scit([
      'bot',
      'approvals',
      contract,
      '--json',
      ...common(net, null, signer)
    ])
    t.is(before.code, 0, before.stderr)
    t.is(JSON.parse(before.stdout).weight, 0, 'nobody signed yet')

    const signed = await scit([
      'bot',
      'sign',
      contract,
      '--yes',
      '--json',
      ...common(net, null, signer)
    ])
    t.is(signed.code, 0, signed.stderr)
    t.is(JSON.parse(signed.stdout).weight, 1, 'the bot took the signature')
    await deploying
    t.is(b.state.find('cli-signed').phase, 'running', 'the deploy went on once signed')

    const after = await scit(['bot', 'approvals', contract, ...common(net, null, signer)])
    t.ok(/weight 1 of 1 \(reached\)/.test(after.stdout), after.stdout)
    t.ok(
      /signed +legal/.test(after.stdout) && /pending +it/.test(after.stdout),
      'who signed and who did not'
    )
  }
)

sandboxTest(
  'scit bot template publish, list and show; publishing the same version again is refused with the reason; a bot deploys it by name, with its files',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    await node(t, w)
    const { data } = await funded(t, w.founder)
    const file = await serviceTemplate(t, { replicas: 1 })

    const pub = await scit([
      'bot',
      'template',
      'publish',
      file,
      '--json',
      ...common(net, w.founder, data)
    ])
    t.is(pub.code, 0, pub.stderr)
    t.alike([JSON.parse(pub.stdout).name, JSON.parse(pub.stdout).version], ['web', 1])
    t.alike(JSON.parse(pub.stdout).files, ['server.js'], 'with the file it ships')

    const again = await scit(['bot', 'template', 'publish', file, ...common(net, w.founder, data)])
    t.is(again.code, 1)
    t.ok(/refused web v1: invalid: template "web" is at version 1/.test(again.stderr), again.stderr)

    const list = await scit(['bot', 'template', 'list', '--json', ...common(net, w.founder, data)])
    t.is(list.code, 0, list.stderr)
    t.alike(
      JSON.parse(list.stdout).map((x: { name: string }) => x.name),
      ['web']
    )

    const show = await scit(['bot', 'template', 'show', 'web@1', ...common(net, w.founder, data)])
    t.is(show.code, 0, show.stderr)
    t.ok(show.stdout.includes('command: [node, server.js]'), 'the document as published')
    t.ok(/^# file server\.js \(\d+ B\)$/m.test(show.stdout), 'and its files')

    const byName = await scit([
      'bot',
      'deploy',
      'web@1',
      '--wait',
      'running',
      '--json',
      ...common(net, w.founder, data)
    ])
    t.is(byName.code, 0, byName.stderr)
    t.is(JSON.parse(byName.stdout).phase, 'running', 'deployed from the market, files included')
    t.ok(fs.existsSync(path.join(data, 'bot', 'templates', 'web@1', 'server.js')), 'unpacked')
  }
)

sandboxTest(
  'scit bot run resumes a deployment left waiting for stakeholders and finishes it once they sign; SIGINT stops it',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const n = await node(t, w)
    const data = await t.tmp()
    const [legal] = stakeholders(1)
    const file = await serviceTemplate(t, {
      replicas: 1,
      threshold: 1,
      stakeholders: [{ key: legal.publicKey, role: 'legal', weight: 1 }]
    })
    const first = await bot(t, w, { data })
    const d = await deploy(first, { template: file, id: 'headless' }, { waitApprovals: false })
    await first.close()

    const running = cmdRun(
      {
        data,
        bootstrap: net.bootstrap.map((b) => `${b.host}:${b.port}`).join(','),
        market: encodeKey(w.key),
        interval: '200ms'
      },
      servedProgram
    )
    const store = new Corestore(await t.tmp())
    t.teardown(() => store.close(), { order: -1 })
    const s = new ContractSession({
      store,
      swarm: swarm(t, net),
      contract: decodeKey(d.contract ?? '')
    })
    t.teardown(() => s.close(), { order: -4 })
    await s.ready()
    const { result } = await s.sign(legal)
    t.ok(result.accepted, 'the headless bot took the signature')
    await nodeState(n, d.trades[0].id, (x) => x === 'running')
    process.emit('SIGINT', 'SIGINT')
    await running
    const after = await bot(t, w, { data })
    t.ok(after.opened, 'SIGINT closed the headless bot: its data dir opens again')
    t.is(
      after.state.find('headless').phase,
      'running',
      'and it had recorded the deployment as running'
    )
    t.ok(
      (await after.writer(after.state.find('headless'))).view.state().deploy !== null,
      'the deploy instruction is on the contract core'
    )
  }
)
