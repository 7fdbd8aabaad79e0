import fs from 'fs'
import os from 'os'
import path from 'path'
import type { Assert } from 'brittle'
import sodium from 'sodium-universal'
import { testnet } from './helpers/net'
import { until, withFinal, offered } from './helpers/ledger'
import { common, funded } from './helpers/cli'
import { world, node, bot, jobTemplate } from './helpers/deploy'
import { nodeArgs, startNode, stopNode } from './helpers/node-process'
import { tmpDir } from './helpers/node'
import { bareTest, runScit } from './helpers/runtime'
import { deploy, waitRunning } from '../bot/deployment'
import { loadIdentity } from '../lib/identity'
import { encodeKey } from '../lib/keys'
import { isScitError } from '../lib/errors'
import * as Q from '../market/queries'

bareTest(
  'scit on Bare: help, an unknown command is error INVALID_ARGUMENT and exit 1 with no stack',
  async (t) => {
    const help = await runScit('bare', ['--help'])
    t.is(help.code, 0, help.stderr)
    t.ok(/^Usage: scit /m.test(help.stdout), 'the same help as on Node')
    const bad = await runScit('bare', ['nosuch'])
    t.is(bad.code, 1, 'exit 1')
    t.is(bad.stderr, "error INVALID_ARGUMENT: unknown command 'nosuch'; see scit --help\n")
  }
)

bareTest(
  'scit market create on Bare writes its data dir owner-only, though Bare has no umask: nothing to tighten when it opens again',
  async (t) => {
    const data = path.join(await t.tmp(), 'scit')
    const created = await runScit('bare', ['market', 'create', '--data', data, '--json'])
    t.is(created.code, 0, created.stderr)
    const mode = (p: string): number => fs.statSync(path.join(data, p)).mode & 0o777
    t.is(mode('.'), 0o700, 'data dir 0700')
    t.is(mode('identity.json'), 0o600, 'identity.json 0600')
    t.is(mode('config.json'), 0o600, 'config.json 0600')
    t.is(mode('market'), 0o700, 'the store dir 0700')
    const id = await runScit('bare', ['id', '--data', data])
    t.is(id.stdout.trim(), encodeKey(loadIdentity(data).publicKey), 'the identity Node reads')
    t.is(id.stderr, '', 'no warning: nothing was exposed')
  }
)

bareTest(
  'scit market stats --json on Bare, against a market served by Node peers, prints what Node prints',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    await funded(t, w.founder, 500)
    await funded(t, w.founder, 700)
    const args = ['market', 'stats', '--json', ...common(net, w.founder, await t.tmp())]
    const onNode = await runScit('node', args)
    t.is(onNode.code, 0, onNode.stderr)
    const onBare = await runScit('bare', args)
    t.is(onBare.code, 0, onBare.stderr)
    const stats = JSON.parse(onBare.stdout)
    t.is(stats.money.minted, 1200, 'both deposits minted')
    t.alike(stats, JSON.parse(onNode.stdout), 'the same figures')
  }
)

/**
 * A node on Bare (`scit node start FLAGS`) on a market of Node peers: its offer becomes final, and a job a
 * Node bot deploys to it runs, writing its hostname (the sandbox names it "scit"), then SIGTERM stops it.
 */
async function jobOnBareNode(t: Assert, flags: string[], hostname: string): Promise<void> {
  const net = await testnet(t)
  const w = await world(t, net)
  const data = await t.tmp()
  const key = encodeKey(loadIdentity(data).publicKey)
  const args = nodeArgs(data, w.key, net, path.join(await tmpDir(t), 'workloads'))
  const n = await startNode(t, [...args, ...flags], { runtime: 'bare' })
  await until(
    w.founder,
    async () => (await withFinal(w.founder, (v) => Q.getOffer(v, key))) !== null
  )
  t.pass('its offer is final')
  const b = await bot(t, w)
  const file = await jobTemplate(t, {
    code: 'require("fs").writeFileSync("out.txt", require("os").hostname())',
    output: 'out.txt'
  })
  const [row] = await waitRunning(b, await deploy(b, { template: file }))
  t.is(row.node, key, 'the job went to the node on Bare')
  t.is(row.state, 'exited', 'which signed it as exited')
  t.is(row.exitCode, 0, 'with exit code 0')
  t.is(row.output, digest(hostname), `its output: hostname ${hostname}`)
  t.alike(await stopNode(n), { code: 0, signal: null }, 'SIGTERM stops it: exit 0')
}

function digest(text: string): string {
  const out = Buffer.alloc(32)
  sodium.crypto_generichash(out, Buffer.from(text))
  return out.toString('hex')
}

bareTest(
  'scit node start on Bare --unsafe-no-sandbox: offer final on a Node market, a job runs (on the host)',
  async (t) => {
    await jobOnBareNode(t, ['--unsafe-no-sandbox'], os.hostname())
  }
)

bareTest(
  'scit node start on Bare in the sandbox: offer final on a Node market, a job runs in bubblewrap',
  { sandbox: true },
  async (t) => {
    await jobOnBareNode(t, [], 'scit')
  }
)

bareTest(
  'a node on Bare with no node binary on PATH fails a "node" job with the reason (UNSUPPORTED on Bare), which the bot sees',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const data = await t.tmp()
    const key = encodeKey(loadIdentity(data).publicKey)
    const args = nodeArgs(data, w.key, net, path.join(await tmpDir(t), 'workloads'))
    // Bare cannot run Node code, so "node" is the node on PATH: here there is none.
    const env = { ...process.env, PATH: await t.tmp() }
    const n = await startNode(t, [...args, '--unsafe-no-sandbox'], { runtime: 'bare', env })
    await offered(w.founder, key)
    const b = await bot(t, w)
    const d = await deploy(b, { template: await jobTemplate(t, { restart: 'never' }) })
    const err = await waitRunning(b, d).then(
      () => null,
      (e: unknown) => e
    )
    t.ok(isScitError(err, 'REPLICA_FAILED'), 'the node signed the job failed')
    t.ok(
      /failed: a "node" workload with no node binary on PATH on Bare;/.test(String(err)),
      String(err)
    )
    await stopNode(n)
  }
)

bareTest(
  'scit bot deploy on Bare: a job deployed to a Node node runs to its end',
  { sandbox: true },
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const n = await node(t, w)
    const { data } = await funded(t, w.founder)
    const file = await jobTemplate(t)
    const r = await runScit('bare', [
      'bot',
      'deploy',
      file,
      '--id',
      'on-bare',
      '--wait',
      'running',
      '--json',
      ...common(net, w.founder, data)
    ])
    t.is(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    t.is(out.phase, 'finished', 'its one job ended: the contract is finished')
    t.alike(
      out.replicas.map((x: { node: string; state: string }) => [x.node, x.state]),
      [[n.key, 'exited']],
      'the Node node ran the job to its end'
    )
  }
)
