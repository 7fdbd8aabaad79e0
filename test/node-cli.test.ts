import test from 'brittle'
import fs from 'fs'
import path from 'path'
import { execFile } from 'child_process'
import { promisify } from 'util'
import { testnet } from './helpers/net'
import type { Testnet } from '../lib/testnet'
import { until, offered } from './helpers/ledger'
import { peerBot, workload, manifest, buy, contract, settle, fileOf } from './helpers/node-bot'
import { tmpDir } from './helpers/node'
import {
  SCIT,
  startNode,
  spawnNode,
  stopNode,
  nodeArgs,
  callHome,
  serviceKey,
  HELLO
} from './helpers/node-process'
import { loadIdentity } from '../lib/identity'
import { encodeKey } from '../lib/keys'
import { cgroupBases } from '../node/cgroup'
import { sandboxTest } from './helpers/sandbox'

const run = promisify(execFile)
const KEY = 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy'
const root = process.getuid?.() === 0

test('scit node start --help documents every flag of the issue', async (t) => {
  const { stdout } = await run(process.execPath, [SCIT, 'node', 'start', '--help'])
  for (const flag of [
    '--data',
    '--market',
    '--bootstrap',
    '--cpu',
    '--memory',
    '--ssd',
    '--hdd',
    '--country',
    '--city',
    '--attr',
    '--price-cpu',
    '--price-memory',
    '--price-ssd',
    '--unsafe-no-sandbox',
    '--workloads',
    '--claim-interval'
  ]) {
    t.ok(stdout.includes(flag), flag)
  }
})

test('scit node start refuses capacity the machine does not have, before joining anything', async (t) => {
  try {
    await run(process.execPath, [
      SCIT,
      'node',
      'start',
      '--data',
      await t.tmp(),
      '--market',
      KEY,
      '--cpu',
      '4096'
    ])
    t.fail('started')
  } catch (err) {
    const e = err as { code: number; stderr: string }
    t.is(e.code, 1)
    t.ok(/^error CAPACITY: --cpu 4096/m.test(e.stderr), e.stderr)
  }
})

test('scit node status shows identity, capacity and workloads of a stopped node', async (t) => {
  const data = await t.tmp()
  const id = (await run(process.execPath, [SCIT, 'id', '--data', data])).stdout.trim()
  const s = JSON.parse(
    (await run(process.execPath, [SCIT, 'node', 'status', '--data', data, '--json'])).stdout
  )
  t.is(s.key, id)
  t.is(s.running, false)
  t.ok(s.sellable.cpu > 0 && s.sellable.memory > 0)
  t.alike(s.workloads, [])
  t.alike(s.leases, [])
  const human = (await run(process.execPath, [SCIT, 'node', 'status', '--data', data])).stdout
  t.ok(human.includes(id) && human.includes('sellable'), human)
})

/** A market with a funded bot, a caller for its services (through the DHT), and a data dir for one node. */
async function scene(t: test.Assert): Promise<{
  b: Awaited<ReturnType<typeof peerBot>>
  home: Awaited<ReturnType<typeof callHome>>
  data: string
  key: string
  tn: Testnet
  args: string[]
}> {
  const tn = await testnet(t)
  const b = await peerBot(t, tn)
  const home = await callHome(t, tn, b.identity)
  const data = await t.tmp()
  const key = encodeKey(loadIdentity(data).publicKey)
  return {
    tn,
    b,
    home,
    data,
    key,
    args: nodeArgs(data, b.peer.key, tn, path.join(await tmpDir(t), 'workloads'))
  }
}

/** Buy, write and settle a service; resolves with its trade once the test reached it through the DHT. */
async function serve(
  t: test.Assert,
  s: Awaited<ReturnType<typeof scene>>,
  calls: number
): Promise<string> {
  await offered(s.b.peer, s.key)
  const m = manifest(
    workload({ kind: 'service', ports: [8080], files: [await fileOf(t, 'main.js', HELLO)] })
  )
  const trade = await buy(s.b, m)
  s.home.watch(serviceKey(s.data, trade, 8080))
  const w = await contract(t, s.b, m, [trade], { 'main.js': HELLO })
  await settle(s.b, trade, w, m)
  await s.home.count(calls)
  return trade
}

/** What `scit node status --json` prints, the fields these tests read. */
interface StatusJson {
  running: boolean
  workloads: Array<{ state: string; reason: string; trade: string }>
  leases: unknown[]
}

async function status(data: string): Promise<{ json: StatusJson; human: string }> {
  const json = JSON.parse(
    (await run(process.execPath, [SCIT, 'node', 'status', '--data', data, '--json'])).stdout
  ) as StatusJson
  const human = (await run(process.execPath, [SCIT, 'node', 'status', '--data', data])).stdout
  return { json, human }
}

sandboxTest(
  'without a working sandbox scit node start refuses (SANDBOX) and joins nothing; --unsafe-no-sandbox runs workloads anyway',
  { skip: !root },
  async (t) => {
    const s = await scene(t)
    // A machine where bubblewrap cannot run: in a mount namespace of the node's own, /usr/bin/bwrap is /dev/null.
    const wrap = [
      '/usr/bin/unshare',
      '--mount',
      '--propagation',
      'private',
      '--',
      '/bin/sh',
      '-c',
      'mount --bind /dev/null /usr/bin/bwrap && exec "$@"',
      'sh'
    ]
    const refused = spawnNode(t, s.args, { wrap })
    const e = await refused.exited
    t.is(e.code, 1, 'exit 1')
    t.ok(
      /^error SANDBOX: .*refusing to run workloads/m.test(refused.stderr()),
      refused.stderr().trim()
    )
    t.absent(
      fs.existsSync(path.join(s.data, 'corestore')),
      'it opened no store: it joined nothing, offered nothing'
    )

    const unsafe = await startNode(t, [...s.args, '--unsafe-no-sandbox'], { wrap })
    t.ok(unsafe.stderr().includes('WITHOUT ISOLATION'), 'it says so, loudly')
    await serve(t, s, 1)
    const pid = Number(s.home.hellos[0].split(' ')[1])
    t.ok(pid > 2, `the workload ran, without a pid namespace of its own (pid ${pid})`)
  }
)

sandboxTest('SIGTERM stops a running node: its workloads first, then it exits 0', async (t) => {
  const s = await scene(t)
  const p = await startNode(t, s.args)
  const trade = await serve(t, s, 1)
  const pid = p.child.pid as number
  t.alike(await stopNode(p), { code: 0, signal: null }, 'exit code 0')
  await s.home.closed(1)
  // one line per event, as a farmer reads them
  const said = p.stderr()
  t.ok(
    new RegExp(`^\\S+ lease +${trade}: bot \\S+, cpu 0\\.5, mem 512MiB at 55/h, until `, 'm').test(
      said
    ),
    said
  )
  t.ok(new RegExp(`^\\S+ workload +\\S+ running`, 'm').test(said), 'its workload running')
  t.ok(/^\S+ withdraw +SIGTERM: withdrawing the offer/m.test(said), 'the withdrawal on SIGTERM')
  t.ok(/^\S+ withdrawn +the offer is withdrawn \(final in the ledger\)/m.test(said), 'and its end')
  t.ok(/^\S+ workload +\S+ stopped: node shutting down/m.test(said), 'the workload stopped')
  t.ok(/^\S+ stopped +node /m.test(said), 'the node stopped')
  const { json } = await status(s.data)
  t.is(json.running, false)
  t.alike(
    json.workloads.map((w) => [w.trade, w.state, w.reason]),
    [[trade, 'stopped', 'node shutting down']],
    'the status core recorded the stop'
  )
  const bases = cgroupBases()
  if (bases !== null) {
    let left: string[] = []
    try {
      left = fs.readdirSync(path.join(bases.pids, 'scit')).filter((n) => n.startsWith(`${pid}-`))
    } catch {}
    t.alike(left, [], 'no cgroup of its workloads is left')
  }
})

sandboxTest(
  'scit node status shows the leases of a node that ran a workload, while it runs and after, as JSON and for people',
  async (t) => {
    const s = await scene(t)
    const p = await startNode(t, s.args)
    const trade = await serve(t, s, 1)
    const ledger = await s.b.peer.client.trade(trade)
    if (ledger === null || ledger.end === null) throw new Error('no lease in the ledger')
    t.is(ledger.price, 55, 'half a core at 100 and 512MiB at 10 per GiB-hour')
    const expected = {
      trade,
      bot: encodeKey(s.b.identity.publicKey),
      contract: ledger.contract,
      resources: ledger.resources,
      price: ledger.price,
      start: ledger.start,
      end: ledger.end
    }

    const live = await status(s.data)
    t.is(live.json.running, true)
    t.alike(
      live.json.leases,
      [expected],
      'JSON: trade, bot, contract, resources, price per hour, start and end'
    )
    const line = live.human.split('\n').find((l) => l.includes(trade)) ?? ''
    for (const part of [
      expected.bot,
      'cpu 0.5, mem 512MiB',
      `${ledger.price}/h`,
      `ends ${new Date(ledger.end).toISOString()}`
    ])
      t.ok(line.includes(part), `human: ${part}`)
    t.ok(live.human.includes('leases:'), live.human)

    await stopNode(p)
    const after = await status(s.data)
    t.is(after.json.running, false)
    t.alike(after.json.leases, [expected], 'after a stop: the leases as the node last saw them')
    t.ok(/leases \(when the node last ran, \d{4}-/.test(after.human), 'and it says so')
    t.ok(after.human.includes(trade))
  }
)

/** `scit node start ARGS` to its end: exit code and stderr. */
async function refused(
  t: test.Assert,
  args: string[]
): Promise<{ code: number | null; stderr: string }> {
  const p = spawnNode(t, args)
  const e = await p.exited
  return { code: e.code, stderr: p.stderr() }
}

test(
  'a node whose data dir is under a dir the sandbox user cannot traverse exits 1 (SANDBOX, with the fix) before it offers anything',
  { skip: !root },
  async (t) => {
    const tn = await testnet(t)
    const b = await peerBot(t, tn)
    const closed = await t.tmp() // 0700, like /root or a mktemp -d
    fs.chmodSync(closed, 0o700)
    const data = path.join(closed, 'scit')
    const key = encodeKey(loadIdentity(data).publicKey)
    const e = await refused(t, [
      '--data',
      data,
      '--market',
      encodeKey(b.peer.key),
      '--bootstrap',
      tn.bootstrap.map((x) => `${x.host}:${x.port}`).join(',')
    ])
    t.is(e.code, 1, 'exit 1')
    t.ok(
      e.stderr.startsWith(
        `error SANDBOX: the sandbox user (uid 65534) cannot reach the work dirs in ${path.join(data, 'workloads')}: ${closed} is mode 700`
      ),
      e.stderr
    )
    t.ok(
      e.stderr.includes(`chmod o+x ${closed}`) && e.stderr.includes('--data'),
      'it says how to fix it'
    )
    t.absent(/\n\s+at /.test(e.stderr), 'no stack trace')
    t.absent(fs.existsSync(path.join(data, 'corestore')), 'it opened no store: it joined nothing')
    t.is(await b.peer.client.offer(key), null, 'no offer in the market')
  }
)

test('offer flags the market would refuse fail the start locally: a country that does not exist, --min-lease above --max-lease, a bad price', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [
      ['--country', 'XX'],
      /^error INVALID_ARGUMENT: --country "XX" is not an ISO 3166-1 alpha-2 country code/
    ],
    [
      ['--country', 'Schweiz'],
      /^error INVALID_ARGUMENT: --country "SCHWEIZ" is not an ISO 3166-1 alpha-2 country code/
    ],
    [
      ['--min-lease', '7200000', '--max-lease', '3600000'],
      /^error INVALID_ARGUMENT: --min-lease 7200000 is above --max-lease 3600000/
    ],
    [['--price-memory', '0.5'], /^error INVALID_ARGUMENT: --price-memory must be a whole number/],
    [
      ['--price-cpu', '0'],
      /^error INVALID_ARGUMENT: --price-cpu 0 would sell this node's cpu for nothing: give at least 1/
    ],
    [
      ['--price-cpu', '99999999999999999999'],
      /^error INVALID_ARGUMENT: --price-cpu must be a whole number below 2\^53/
    ]
  ]
  for (const [flags, expected] of cases) {
    const data = path.join(await t.tmp(), 'n')
    const e = await refused(t, [
      '--data',
      data,
      '--market',
      KEY,
      '--bootstrap',
      '127.0.0.1:1',
      ...flags
    ])
    t.is(e.code, 1, `${flags.join(' ')}: exit 1`)
    t.ok(expected.test(e.stderr), e.stderr)
    t.absent(fs.existsSync(path.join(data, 'corestore')), 'nothing opened')
  }
})

test('scit node start --help documents the default prices, none of them 0', async (t) => {
  const { stdout } = await run(process.execPath, [SCIT, 'node', 'start', '--help'])
  for (const kind of ['cpu', 'memory', 'ssd', 'hdd']) {
    const m = new RegExp(`--price-${kind} <n>[^]*?\\(default: "(\\d+)"\\)`).exec(stdout)
    t.ok(m !== null && Number(m[1]) > 0, `--price-${kind} defaults to ${m?.[1] ?? '?'}`)
  }
})

sandboxTest(
  'a second node on a data dir in use exits 1 with error BUSY and the pid of the first, no stack',
  async (t) => {
    const s = await scene(t)
    const first = await startNode(t, s.args)
    const e = await refused(t, s.args)
    t.is(e.code, 1, 'exit 1')
    t.is(
      e.stderr,
      `error BUSY: another scit process uses this data dir ${s.data} (pid ${String(first.child.pid)}): stop it first, or give this one its own --data\n`
    )
  }
)

sandboxTest("SIGTERM withdraws the node's offer before it exits", async (t) => {
  const s = await scene(t)
  const p = await startNode(t, s.args)

  // A second node on this machine that sells all of it: it says that the two sell more than there is.
  const all = s.args.filter((a, i) => a !== '--cpu' && s.args[i - 1] !== '--cpu')
  const second = await t.tmp()
  all[all.indexOf('--data') + 1] = second
  all[all.indexOf('--workloads') + 1] = path.join(await tmpDir(t), 'workloads')
  const q = await startNode(t, all)
  t.ok(
    new RegExp(
      `^\\S+ warning +this machine is sold more than once: .*node ${s.key.slice(0, 8)} \\(pid ${p.child.pid ?? 0}, --data ${s.data}\\) sells cpu 1, .*Together they sell cpu `,
      'm'
    ).test(q.stderr()),
    q.stderr()
  )
  t.alike(await stopNode(q), { code: 0, signal: null })
  await until(s.b.peer, async () => (await s.b.peer.client.offer(s.key))?.withdrawn === false)
  t.alike(await stopNode(p), { code: 0, signal: null }, 'exit code 0')
  await until(s.b.peer, async () => (await s.b.peer.client.offer(s.key))?.withdrawn === true)
  t.is((await s.b.peer.client.offer(s.key))?.withdrawn, true, 'the market has the offer withdrawn')
  const offers = await s.b.peer.client.offers({})
  t.absent(
    offers.some((o) => o.node === s.key),
    'no longer among the live offers'
  )
})

sandboxTest(
  "a node whose offer the market refuses exits 1 with the market's reason instead of running without one",
  async (t) => {
    const s = await scene(t)
    const p = await startNode(t, s.args)
    await serve(t, s, 1)
    await stopNode(p)
    // The lease holds 0.5 core: an offer of 0.25 passes every local check, and the market refuses it.
    const e = await refused(t, [...s.args, '--cpu', '0.25'])
    t.is(e.code, 1, 'exit 1')
    t.ok(
      /^error REJECTED: the market refused the offer: .*below what running leases hold/m.test(
        e.stderr
      ),
      e.stderr
    )
    t.absent(/\n\s+at /.test(e.stderr), 'no stack trace')
  }
)

sandboxTest(
  'a node with a lease on one market refuses to start on another (INVALID_CONFIG), before it opens anything',
  async (t) => {
    const s = await scene(t)
    const p = await startNode(t, s.args)
    await serve(t, s, 1)
    await stopNode(p)
    const a = encodeKey(s.b.peer.key)
    const other = encodeKey((await peerBot(t, s.tn)).peer.key)
    const e = await refused(
      t,
      s.args.map((x) => (x === a ? other : x))
    )
    t.is(e.code, 1, 'exit 1')
    t.ok(
      e.stderr.startsWith(
        `error INVALID_CONFIG: the node in ${s.data} has 1 lease on market ${a} (`
      ),
      e.stderr
    )
    t.ok(e.stderr.includes('give the other market its own --data'), 'with the fix')
    t.absent(/\n\s+at /.test(e.stderr), 'no stack trace')
  }
)
