/**
 * Node figures: sandbox start time and the daemon's idle RSS, on Node and on
 * Bare side by side, and the time from a trade's settlement being final to
 * its workload running (Node).
 *   node .dist-c/test/bench/node.js [runs]
 */
import fs from 'fs'
import path from 'path'
import { spawn, execFileSync } from 'child_process'
import type { Assert } from 'brittle'
import { startTestnet, Testnet } from '../../lib/testnet'
import type { MarketPeer } from '../../market/peer'
import { workloadId } from '../../lib/trade-workload'
import { encodeKey } from '../../lib/keys'
import { loadIdentity } from '../../lib/identity'
import { manifestHash } from '../../lib/contract'
import {
  peerBot,
  node,
  workload,
  manifest,
  buy,
  contract,
  fileOf,
  nodeTransition
} from '../helpers/node-bot'
import { offered } from '../helpers/ledger'
import { shim, ms } from './shim'
import { BARE, scitArgv } from '../helpers/runtime'
import type { Runtime } from '../../lib/runtime'

const RUNS = Number(process.argv[2] ?? 20)

const ROOT = path.join(__dirname, '..', '..', '..')
const RUNTIMES: Runtime[] = BARE.bin === null ? ['node'] : ['node', 'bare']

/** Median start+exit of `cmd` in the sandbox, launched by a process of `runtime` (sandbox-start.ts). */
function sandboxStart(runtime: Runtime, cmd: string[]): number {
  const script = path.join(__dirname, 'sandbox-start.js')
  const argv =
    runtime === 'node'
      ? [process.execPath, script]
      : [BARE.bin as string, path.join(ROOT, 'bin', 'bare-node.js'), script]
  const out = execFileSync(argv[0], [...argv.slice(1), String(RUNS), ...cmd], { encoding: 'utf8' })
  return Number(out.trim())
}

async function finalToRunning(): Promise<{ ms: number; rssKiB: Record<Runtime, number> }> {
  const { t, done } = shim()
  const net = await startTestnet(3)
  t.teardown(() => net.destroy(), { order: Infinity })
  try {
    const b = await peerBot(t, net)
    const n = await node(t, net, b)
    await offered(b.peer, encodeKey(n.identity.publicKey))
    const code = 'setInterval(() => {}, 1000)'
    const m = manifest(workload({ kind: 'service', files: [await fileOf(t, 'main.js', code)] }))
    const trade = await buy(b, m)
    const w = await contract(t, b, m, [trade], { 'main.js': code })
    const running = nodeTransition(n, workloadId({ id: trade }), (tr) => tr.state === 'running')
    await b.peer.client.submitAndWait(
      [{ type: 'settle', body: { trade, contract: w.writer.key, manifest: manifestHash(m) } }],
      { final: true }
    )
    const s = process.hrtime.bigint()
    await running
    const finalToRun = ms(s)
    const rssKiB = { node: 0, bare: 0 }
    for (const runtime of RUNTIMES) rssKiB[runtime] = await idleRss(t, runtime, net, b.peer)
    return { ms: finalToRun, rssKiB }
  } finally {
    await done()
  }
}

/** The daemon's idle RSS: a real `scit node start` process on `runtime`, measured once it is ready and has settled. */
async function idleRss(
  t: Assert,
  runtime: Runtime,
  net: Testnet,
  market: MarketPeer
): Promise<number> {
  const data = await t.tmp()
  const key = encodeKey(loadIdentity(data).publicKey)
  const work = await t.tmp()
  fs.chmodSync(work, 0o711) // the sandbox user passes through to its work dirs
  const child = spawn(
    '/usr/bin/setpriv',
    [
      '--pdeathsig',
      'KILL',
      '--',
      ...scitArgv(runtime),
      'node',
      'start',
      '--data',
      data,
      '--market',
      encodeKey(market.key),
      '--bootstrap',
      net.bootstrap.map((x) => `${x.host}:${x.port}`).join(','),
      '--cpu',
      '1',
      '--memory',
      '1GiB',
      '--ssd',
      '1GiB',
      '--workloads',
      path.join(work, 'w')
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] }
  )
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) resolve()
      })
      exited.then(() =>
        reject(new Error(`scit node start on ${runtime} exited before it was ready`))
      )
    })
    await offered(market, key)
    await new Promise((resolve) => setTimeout(resolve, 3000)) // a benchmark, not a test: let it go idle
    return Number(
      /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid ?? 0}/status`, 'utf8'))?.[1] ?? 0
    )
  } finally {
    child.kill('SIGTERM')
    await exited
  }
}

const row = (label: string, cells: string[]): string =>
  [label.padEnd(50), ...cells.map((c) => c.padStart(10))].join('')

async function main(): Promise<void> {
  const names = RUNTIMES.map((r) => (r === 'node' ? 'Node' : 'Bare'))
  if (BARE.bin === null) console.log(`(no Bare here: ${BARE.reason ?? ''}; Node only)`)
  console.log(row('', names))
  for (const cmd of [['/usr/bin/true'], ['node', '-e', '0']])
    console.log(
      row(
        `sandbox start+exit, ${cmd.join(' ')} (median of ${RUNS})`,
        RUNTIMES.map((r) => `${sandboxStart(r, cmd).toFixed(1)} ms`)
      )
    )
  const r = await finalToRunning()
  console.log(
    row(
      'daemon idle RSS (1 market, 0 workloads)',
      RUNTIMES.map((x) => `${(r.rssKiB[x] / 1024).toFixed(1)} MiB`)
    )
  )
  console.log(`settle final (as the bot sees it) to workload running, Node: ${r.ms.toFixed(0)} ms`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
