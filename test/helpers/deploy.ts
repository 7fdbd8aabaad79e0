/**
 * Test helpers for the 3bot runtime: a whole world on a local testnet (a
 * market founder that is its indexer and faucet, real node daemons, bots with
 * their own data dirs), service templates, and waits on events/conditions.
 */
import { workloadId } from '../../lib/trade-workload'
import fs from 'fs'
import path from 'path'
import type { Assert } from 'brittle'
import type { Testnet } from '../../lib/testnet'
import { generateKeyPair, KeyPair } from '../../lib/identity'
import { encodeKey } from '../../lib/keys'
import type { MarketPeer } from '../../market/peer'
import { moneyConserved as checkMoney } from '../../market/audit'
import { NodeDaemon, NodeOptions } from '../../node/daemon'
import { Bot, BotOptions } from '../../bot/bot'
import { market, until, offered } from './ledger'
import { nodeDaemon } from './node'
import { testnet } from './net'
import { deploy, waitRunning } from '../../bot/deployment'
import type { DeploymentRecord } from '../../bot/records'
import { ZERO, MiB } from '../../lib/resources'

export interface World {
  net: Testnet
  founder: MarketPeer
  key: Buffer
}

/** A market on the testnet, founded by a peer that is its only indexer and faucet. */
export async function world(
  t: Assert,
  net: Testnet,
  opts: { offerTtl?: number; settlementWindow?: number; now?: () => number } = {}
): Promise<World> {
  const founder = await market(t, net, opts)
  return { net, founder, key: founder.key }
}

/** A template of one job, `node job.js` with `code` (default: print a line and exit); its path. */
export async function jobTemplate(
  t: Assert,
  opts: { name?: string; code?: string; output?: string; restart?: string } = {}
): Promise<string> {
  const dir = await t.tmp()
  fs.writeFileSync(path.join(dir, 'job.js'), (opts.code ?? 'console.log("done")') + '\n')
  const file = path.join(dir, 'job.yaml')
  fs.writeFileSync(
    file,
    [
      `name: ${opts.name ?? 'job'}`,
      'version: 1',
      'workloads:',
      '  - name: calc',
      '    kind: job',
      '    files: [job.js]',
      '    command: [node, job.js]',
      ...(opts.output !== undefined ? [`    output: ${opts.output}`] : []),
      ...(opts.restart !== undefined ? [`    restart: ${opts.restart}`] : []),
      '    resources: { cpu: 500m, memory: 128MiB }',
      'duration: 1h',
      'budget: 100'
    ].join('\n') + '\n'
  )
  return file
}

/** A node daemon (helpers/node.ts nodeDaemon, with an ssd attribute) once its offer is in the market. */
export async function node(
  t: Assert,
  w: World,
  over: Partial<NodeOptions> = {}
): Promise<NodeDaemon> {
  const n = await nodeDaemon(t, w.net, w.key, { attributes: ['ssd'], ...over }, -2)
  await offered(w.founder, n.key)
  return n
}

export interface Running {
  net: Testnet
  w: World
  nodes: NodeDaemon[]
  b: Bot
  d: DeploymentRecord
}

/** A market, `nodes` nodes, a funded bot, and `template` deployed by it with every replica running. */
export async function runningDeployment(
  t: Assert,
  opts: { template: string; nodes?: number; id?: string; bot?: Partial<BotOptions> }
): Promise<Running> {
  const net = await testnet(t)
  const w = await world(t, net)
  const nodes: NodeDaemon[] = []
  for (let i = 0; i < (opts.nodes ?? 1); i++) nodes.push(await node(t, w))
  const b = await bot(t, w, opts.bot)
  const d = await deploy(b, { template: opts.template, id: opts.id })
  await waitRunning(b, d)
  return { net, w, nodes, b, d }
}

export const FAST_MONITOR = { interval: 200, grace: 2000, challengeInterval: 0 }

/** A bot on its own data dir, funded by the faucet; closed at teardown before the nodes. */
export async function bot(
  t: Assert,
  w: World,
  over: Partial<BotOptions> & { fund?: number } = {}
): Promise<Bot> {
  const data = over.data ?? (await t.tmp())
  const b = new Bot({
    data,
    market: w.key,
    dht: w.net.createNode(),
    trader: { bidWindow: 30_000, attempts: 2, backoff: 100 },
    monitor: FAST_MONITOR,
    ...over
  })
  t.teardown(() => b.close(), { order: -3 })
  await b.ready()
  if (over.fund !== 0 && (await b.client.balance(b.key)) === 0) {
    const [o] = await w.founder.client.submitAndWait([
      { type: 'deposit', body: { to: b.identity.publicKey, amount: over.fund ?? 1_000_000 } }
    ])
    if (!o.accepted) throw new Error(`deposit refused: ${o.message ?? ''}`)
    await until(w.founder, async () => true)
    await waitFor(b, async () => (await b.client.balance(b.key)) > 0)
  }
  return b
}

/** Re-check `fn` on every market update of the bot until it holds. */
/**
 * Kill `b` at its next progress line `step`, as kill -9 would: a listener that throws stops its work right there
 * (nothing after the line runs), with Error('killed'). Once.
 */
export function dieAt(b: Bot, step: string): void {
  const on = (s: string): void => {
    if (s !== step) return
    b.events.off('progress', on)
    throw new Error('killed')
  }
  b.events.on('progress', on)
}

/**
 * A world with one node, and a bot on `data` killed once it made contract `id` (one replica of a service), before it
 * planned a bid: a test then shapes the bid records a restart finds.
 */
export async function killedAfterContract(
  t: Assert,
  id: string
): Promise<{ w: World; data: string }> {
  const w = await world(t, await testnet(t))
  await node(t, w)
  const data = await t.tmp()
  const file = await serviceTemplate(t, { replicas: 1 })
  const first = await bot(t, w, { data })
  dieAt(first, 'contract')
  await t.exception(deploy(first, { template: file, id }), /killed/, 'the first run dies')
  await first.close()
  return { w, data }
}

export async function waitFor(b: Bot, fn: () => Promise<boolean>): Promise<void> {
  const { until: u } = await import('../../bot/wait')
  await u(b.client, fn, { poll: 100 })
}

export const SERVER =
  'let n = 0; setInterval(() => { n++ }, 1000); console.log("up", process.env.GREETING || "")\n'

/** A service template: `replicas` replicas of a tiny server, spread, in `countries`. Returns its path. */
export async function serviceTemplate(
  t: Assert,
  opts: {
    replicas?: number
    duration?: string
    countries?: string[]
    stakeholders?: Array<{ key: Buffer; role: string; weight: number }>
    threshold?: number
  } = {}
): Promise<string> {
  const dir = await t.tmp()
  fs.writeFileSync(path.join(dir, 'server.js'), SERVER)
  const lines = [
    'name: web',
    'version: 1',
    'parameters:',
    `  replicas: { type: int, default: ${opts.replicas ?? 2}, min: 1, max: 10 }`,
    '  greeting: { type: string, default: hello }',
    'workloads:',
    '  - name: app',
    '    kind: service',
    '    files: [server.js]',
    '    command: [node, server.js]',
    '    env: { GREETING: "${greeting}" }',
    '    replicas: "${replicas}"',
    '    resources: { cpu: 500m, memory: 256MiB }',
    `placement: { countries: [${(opts.countries ?? ['CH']).join(', ')}], attributes: [ssd], spread: true }`,
    `duration: ${opts.duration ?? '1h'}`,
    'budget: 100'
  ]
  if (opts.stakeholders) {
    lines.push('stakeholders:', `  threshold: ${opts.threshold ?? 2}`, '  signers:')
    for (const s of opts.stakeholders)
      lines.push(`    - { key: ${encodeKey(s.key)}, role: ${s.role}, weight: ${s.weight} }`)
  }
  const file = path.join(dir, 'web.yaml')
  fs.writeFileSync(file, lines.join('\n') + '\n')
  return file
}

export function stakeholders(n: number): KeyPair[] {
  return Array.from({ length: n }, () => generateKeyPair())
}

/** Σ balances + Σ escrow = minted, on a snapshot of the founder's final view (a live view may move between reads). */
export async function moneyConserved(
  w: World
): Promise<{ ok: boolean; minted: number; held: number }> {
  return checkMoney(w.founder)
}

/** The workload state the node reports for a trade (its supervisor), or null. */
export function stateOn(n: NodeDaemon, trade: string): string | null {
  return n.supervisor.list().find((x) => x.spec.id === workloadId({ id: trade }))?.state ?? null
}

/** Resolve once node `n` runs (or stopped running) the workload of `trade`. */
export function nodeState(
  n: NodeDaemon,
  trade: string,
  want: (s: string | null) => boolean
): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!want(stateOn(n, trade))) return
      n.supervisor.off('transition', check)
      resolve()
    }
    n.supervisor.on('transition', check)
    check()
  })
}

/** One replica of a service running on one of two nodes: `lost` its lease, `victim` its node, `spare` the other. */
export async function oneOfTwo(t: Assert, bot?: Partial<BotOptions>) {
  const r = await runningDeployment(t, {
    nodes: 2,
    template: await serviceTemplate(t, { replicas: 1 }),
    bot
  })
  const lost = r.d.trades[0]
  const victim = r.nodes.find((n) => n.key === lost.node)
  const spare = r.nodes.find((n) => n.key !== lost.node)
  if (!victim || !spare) throw new Error('expected the lease on one of the two nodes')
  return { ...r, lost, victim, spare }
}

/** The bot's monitor (started here) heals `lost`: one replacement lease, on the spare node, running the workload. */
export async function replacedOnce(
  t: Assert,
  r: Awaited<ReturnType<typeof oneOfTwo>>
): Promise<void> {
  const { b, d, lost, spare } = r
  const done = healed(b)
  b.monitor.start()
  const what = await done
  t.ok(what.startsWith('healed'), what)
  const replacement = d.trades.find((x) => x.replaces === lost.id)
  t.is(replacement?.node, spare.key, 'a replacement lease is bought on the other node')
  const rows = await waitRunning(b, d)
  t.is(
    rows.find((row) => row.trade === replacement?.id)?.state,
    'running',
    'and it runs the workload'
  )
  t.is(d.trades.filter((x) => x.replaces === lost.id).length, 1, 'once')
}

/** A node with `cpu` (500: room for one replica of serviceTemplate, 1000: two) at `price` per cpu unit. */
export function sized(cpu: number, price: number): Partial<NodeOptions> {
  return {
    capacity: { ...ZERO, cpu, memory: 2048 * MiB, ssd: 1024 * MiB },
    prices: { ...ZERO, cpu: price, memory: 1 }
  }
}

/** Two one-replica services of `b` running: a on `x` (the cheapest, room for one replica), b on `y` (the next). */
export async function twoServices(t: Assert, b: Bot, x: NodeDaemon, y: NodeDaemon) {
  const template = await serviceTemplate(t, { replicas: 1 })
  const da = await deploy(b, { template, id: 'a' })
  await waitRunning(b, da)
  const db = await deploy(b, { template, id: 'b' })
  await waitRunning(b, db)
  const [la, lb] = [da.trades[0], db.trades[0]]
  t.is(la.node, x.key, 'a on the cheapest node')
  t.is(lb.node, y.key, 'b on the next one: the cheapest is full')
  return { da, db, la, lb }
}

/** Resolves at the bot's next progress line `step`. */
export function nextLine(b: Bot, step: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (s: string): void => {
      if (s !== step) return
      b.events.off('progress', on)
      resolve()
    }
    b.events.on('progress', on)
  })
}

/** Resolve with the bot's next heal outcome: "healed: …" or "heal-failed: …". */
export function healed(b: Bot): Promise<string> {
  return new Promise((resolve) => {
    const on = (step: string, detail: string): void => {
      if (step !== 'healed' && step !== 'heal-failed') return
      b.events.off('progress', on)
      resolve(`${step}: ${detail}`)
    }
    b.events.on('progress', on)
  })
}
