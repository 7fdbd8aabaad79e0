/**
 * Joining a market with a history (docs/ARCHITECTURE.md "Scale"): fresh
 * processes read the indexers' signed view instead of replaying the market.
 */
import test from 'brittle'
import type { Assert } from 'brittle'
import { spawn } from 'child_process'
import { testnet, swarm } from './helpers/net'
import { marketTopic } from '../lib/topics'
import { history } from './helpers/ledger'
import { world, node, bot, jobTemplate } from './helpers/deploy'
import { scit, common } from './helpers/cli'
import { sandboxTest } from './helpers/sandbox'
import { SCIT } from './helpers/node-process'
import { generateKeyPair } from '../lib/identity'
import { encodeKey } from '../lib/keys'
import { deploy, waitRunning } from '../bot/deployment'
import type { Testnet } from '../lib/testnet'

interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

function run(args: string[], opts: { onspawn?: (kill: () => void) => void } = {}): Promise<Exit> {
  const child = spawn(process.execPath, [SCIT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => {
    stdout += d
  })
  child.stderr.on('data', (d) => {
    stderr += d
  })
  opts.onspawn?.(() => child.kill('SIGTERM'))
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr }))
  )
}

/**
 * `n` peers that announced themselves on `topic` and were then killed (SIGKILL:
 * no unannounce), as nodes whose machines died: their DHT records stay.
 */
async function deadPeers(t: Assert, net: Testnet, topic: Buffer, n: number): Promise<void> {
  const code = `
    const Hyperswarm = require(${JSON.stringify(require.resolve('hyperswarm'))})
    const DHT = require(${JSON.stringify(require.resolve('hyperdht'))})
    const s = new Hyperswarm({ dht: new DHT({ bootstrap: ${JSON.stringify(net.bootstrap)}, host: '127.0.0.1' }) })
    s.join(Buffer.from('${topic.toString('hex')}', 'hex'), { server: true, client: false }).flushed().then(() => console.log('announced'))`
  const kids = Array.from({ length: n }, () =>
    spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  )
  t.teardown(() => {
    for (const k of kids) k.kill('SIGKILL')
  })
  await Promise.all(
    kids.map(
      (k) =>
        new Promise<void>((resolve, reject) => {
          k.stdout.once('data', () => resolve())
          k.once('exit', () => reject(new Error('a peer exited before it announced')))
        })
    )
  )
  await Promise.all(
    kids.map((k) => {
      const gone = new Promise((resolve) => k.once('exit', resolve))
      k.kill('SIGKILL')
      return gone
    })
  )
}

function bootstrap(net: Testnet): string {
  return net.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
}

/** `scit market info --json` for market `key` (a fresh random one by default), on the testnet, from `data`. */
function infoArgs(net: Testnet, data: string, key = generateKeyPair().publicKey): string[] {
  const where = ['--bootstrap', bootstrap(net), '--data', data]
  return ['market', 'info', '--json', '--market', encodeKey(key), ...where]
}

test('a fresh scit market info process answers for a market with a history, running the engine on no op', async (t) => {
  const net = await testnet(t)
  const w = await world(t, net)
  await history(w.founder, 2000)
  const r = await run(infoArgs(net, await t.tmp(), w.key))
  t.is(r.code, 0, r.stderr)
  const info = JSON.parse(r.stdout)
  t.is(info.offers, 1000, 'every offer counted')
  t.ok(
    info.accepted + info.rejected > 2000,
    `every op counted (${info.accepted} accepted, ${info.rejected} refused)`
  )
  t.is(info.engineRuns, 0, 'it ran the engine on no op')
})

sandboxTest(
  'on a market with a history, a fresh node is sold a trade and runs a job a fresh bot deploys',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    await history(w.founder, 2000)
    const n = await node(t, w)
    const b = await bot(t, w)
    t.is(
      n.peer.ledger.counters.envelopes + b.peer.ledger.counters.envelopes,
      0,
      'neither applied the market'
    )
    const d = await deploy(b, { template: await jobTemplate(t, { name: 'late' }) })
    const [row] = await waitRunning(b, d)
    t.is(row.node, n.key, 'the fresh node sold it')
    t.is(row.state, 'exited', 'and ran it')
  }
)

test('SIGTERM while a command waits to join a market stops it', async (t) => {
  const net = await testnet(t)
  // Nobody serves this market: the command waits for a peer to show its view until it is stopped.
  const exit = run(infoArgs(net, await t.tmp()), {
    onspawn: (kill) => {
      setTimeout(kill, 1000)
    }
  })
  const r = await exit
  t.ok(r.signal === 'SIGTERM' || r.code !== 0, `it stopped (${r.signal ?? r.code ?? '?'})`)
  t.absent(/\n\s+at /.test(r.stderr), 'no stack trace')
})

test('a command for a market nobody serves ends with TIMEOUT and exits (nothing it opened keeps it alive)', async (t) => {
  const net = await testnet(t)
  // --join-timeout 5s, not the default 30 s: that it gives up is what is checked, not when
  const r = await run([...infoArgs(net, await t.tmp()), '--join-timeout', '5s'])
  t.is(r.code, 1)
  t.ok(/^error TIMEOUT: no peer of market/m.test(r.stderr), r.stderr.trim())
  t.ok(
    /^waiting for market \w+ \(\d+ s of \d+\): no peer has shown its signed view yet$/m.test(
      r.stderr
    ),
    'while it waited, it said what for'
  )
  t.absent(/\n\s+at /.test(r.stderr), 'no stack trace')
})

test('one data dir explores two markets in turn; a data dir that serves one market refuses to serve another', async (t) => {
  const net = await testnet(t)
  const a = await world(t, net)
  const b = await world(t, net)
  const data = await t.tmp()
  for (const w of [a, b, a]) {
    const r = await run(infoArgs(net, data, w.key))
    t.is(r.code, 0, r.stderr)
    t.is(
      JSON.parse(r.stdout).market,
      encodeKey(w.key),
      'the market asked for, from the same data dir'
    )
  }
  const served = await t.tmp()
  const created = await run(['market', 'create', '--json', '--data', served])
  t.is(created.code, 0, created.stderr)
  const refused = await run([
    'market',
    'serve',
    '--market',
    encodeKey(b.key),
    '--bootstrap',
    bootstrap(net),
    '--data',
    served
  ])
  t.is(refused.code, 1)
  t.ok(
    refused.stderr.startsWith(
      `error INVALID_CONFIG: ${served} serves market ${JSON.parse(created.stdout).market as string}`
    ),
    refused.stderr.trim()
  )
})

test("a bot's data dir keeps to the market of its contracts: another market is refused with the fix, the first still works", async (t) => {
  const net = await testnet(t)
  const a = await world(t, net)
  const b = await world(t, net)
  const data = await t.tmp()
  // No node sells on a: the deployment gives up at once, and is recorded
  const deployed = await scit([
    'bot',
    'deploy',
    await jobTemplate(t),
    '--id',
    'first',
    '--timeout',
    '1s',
    ...common(net, a.founder, data)
  ])
  t.is(deployed.code, 1, deployed.stderr)
  const other = await scit(['bot', 'status', ...common(net, b.founder, data)])
  t.is(other.code, 1, 'another market: exit 1')
  t.is(
    other.stderr,
    `error INVALID_CONFIG: the bot in ${data} trades on market ${encodeKey(a.key)} (1 contracts: first), not ${encodeKey(b.key)}: a bot keeps to one market; give this one its own --data, or use --market ${encodeKey(a.key)}\n`
  )
  const same = await scit(['bot', 'status', '--json', ...common(net, a.founder, data)])
  t.is(same.code, 0, same.stderr)
  t.alike(
    (JSON.parse(same.stdout) as Array<{ id: string }>).map((x) => x.id),
    ['first'],
    'its own market: its contract'
  )
})

test('a read-only command does not wait for the dead peers the market topic still announces', async (t) => {
  const net = await testnet(t)
  const w = await world(t, net)
  await deadPeers(t, net, marketTopic(w.key), 6)
  // What a full peer's ready() did: swarm.flush() returns once the connection to every announced peer opened or failed.
  const probe = swarm(t, net)
  probe.join(marketTopic(w.key), { server: false, client: true })
  let flushed = false
  const flushing = probe.flush().then(() => {
    flushed = true
  })
  const r = await run(infoArgs(net, await t.tmp(), w.key))
  t.is(r.code, 0, r.stderr)
  t.is(JSON.parse(r.stdout).market, encodeKey(w.key), 'it answered')
  t.absent(flushed, 'while a swarm flush still waited for the dead peers')
  await flushing
  t.ok(flushed, 'which it did: the dead peers were announced')
})
