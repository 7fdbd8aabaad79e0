/**
 * Test helpers for the explorer: a small market with something in every
 * table (two nodes in two countries, a bot running a contract on one, a
 * published template, a resting bid), and `scit market …` run as a child
 * process against it, as a user runs it.
 */
import fs from 'fs'
import { SCIT, type Run } from './runtime'
import { execFile, spawn, ChildProcess } from 'child_process'
import type { Assert } from 'brittle'
import { encodeKey } from '../../lib/keys'
import { ZERO, GiB } from '../../lib/resources'
import type { Testnet } from '../../lib/testnet'
import type { BidBody } from '../../market/types'
import type { NodeDaemon } from '../../node/daemon'
import type { Bot } from '../../bot/bot'
import { deploy, waitRunning } from '../../bot/deployment'
import type { DeploymentRecord } from '../../bot/records'
import { world, node, bot, serviceTemplate, World } from './deploy'

export interface Explored {
  w: World
  ch: NodeDaemon
  de: NodeDaemon
  bot: Bot
  d: DeploymentRecord
  bid: string
}

/**
 * CH (1 core, ssd, 10 per core-hour) runs one replica of the bot's contract,
 * which takes half its cpu; DE (2 cores, hdd, 50 per core-hour) runs nothing;
 * a bid for a whole core in CH rests open, since CH has half a core left.
 */
export async function explored(t: Assert, net: Testnet): Promise<Explored> {
  const w = await world(t, net)
  const ch = await node(t, w, { country: 'CH', city: 'Zurich', attributes: ['ssd'] })
  const de = await node(t, w, {
    country: 'DE',
    city: 'Berlin',
    attributes: ['hdd'],
    capacity: { ...ZERO, cpu: 2000, memory: 4 * GiB, hdd: 10 * GiB },
    prices: { ...ZERO, cpu: 50, memory: 1, hdd: 1 }
  })
  const b = await bot(t, w)
  const file = await serviceTemplate(t, { replicas: 1, countries: ['CH'] })
  const [published] = await b.client.submitAndWait([
    { type: 'template', body: { name: 'web', version: 1, document: fs.readFileSync(file) } }
  ])
  if (!published.accepted) throw new Error(`template refused: ${published.message ?? ''}`)
  const d = await deploy(b, {
    template: file,
    id: 'explored',
    set: { greeting: 'from-the-explorer-test' }
  })
  await waitRunning(b, d)
  // the workload's first output line, on the node's signed log core
  await new Promise<void>((resolve) => {
    if (ch.status.logs.length > 0) resolve()
    else ch.status.logs.once('append', () => resolve())
  })
  const body: BidBody = {
    resources: { ...ZERO, cpu: 1000, memory: GiB },
    replicas: 1,
    countries: ['CH'],
    attributes: [],
    spread: false,
    maxPrice: 1_000_000,
    duration: 3_600_000,
    expiry: Date.now() + 3_600_000,
    exclude: []
  }
  const [rest] = await b.client.submitAndWait([{ type: 'bid', body }])
  if (!rest.accepted || rest.trades.length > 0) throw new Error('the bid should rest open')
  return { w, ch, de, bot: b, d, bid: rest.id }
}

function flags(net: Testnet, w: { key: Buffer }, data: string): string[] {
  return [
    '--data',
    data,
    '--bootstrap',
    net.bootstrap.map((b) => `${b.host}:${b.port}`).join(','),
    '--market',
    encodeKey(w.key)
  ]
}

/** `scit market ARGS` in a child process with its own data dir; resolves with its exit code and output. */
export async function market(
  t: Assert,
  net: Testnet,
  w: { key: Buffer },
  args: string[]
): Promise<Run> {
  const data = await t.tmp()
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [SCIT, 'market', ...args, ...flags(net, w, data)],
      { timeout: 90_000 },
      (err, stdout, stderr) => {
        resolve({
          code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1,
          stdout,
          stderr
        })
      }
    )
  })
}

/** `scit market ARGS --json`, parsed; fails the test with stderr when it does not exit 0. */
export async function marketJson<T = unknown>(
  t: Assert,
  net: Testnet,
  w: { key: Buffer },
  args: string[]
): Promise<T> {
  const r = await market(t, net, w, [...args, '--json'])
  if (r.code !== 0) throw new Error(`scit market ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

/** A long-running `scit market ARGS` (watch), killed at teardown if still running. */
export async function spawnMarket(
  t: Assert,
  net: Testnet,
  w: World,
  args: string[]
): Promise<{ child: ChildProcess; exited: Promise<number | null>; lines: AsyncIterable<string> }> {
  const child = spawn(
    process.execPath,
    [SCIT, 'market', ...args, ...flags(net, w, await t.tmp())],
    { stdio: ['ignore', 'pipe', 'pipe'] }
  )
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code))
  )
  t.teardown(
    async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exited
      }
    },
    { order: -4 }
  )
  const { createInterface } = await import('readline')
  return { child, exited, lines: createInterface({ input: child.stdout as NodeJS.ReadableStream }) }
}
