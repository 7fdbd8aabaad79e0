/**
 * Node figures: sandbox start time, the daemon's idle RSS, and the time from
 * a trade's settlement being final to its workload running.
 *   node .dist-c/test/bench/node.js [runs]
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { spawn } from 'child_process'
import { startTestnet } from '../../lib/testnet'
import { spawnSandboxed } from '../../node/sandbox'
import { workloadId } from '../../lib/trade-workload'
import { encodeKey } from '../../lib/keys'
import { loadIdentity } from '../../lib/identity'
import { manifestHash } from '../../lib/contract'
import {
  bot,
  node,
  workload,
  manifest,
  buy,
  contract,
  fileOf,
  nodeTransition
} from '../helpers/node-bot'
import { until } from '../helpers/ledger'
import { shim, ms } from './shim'

const RUNS = Number(process.argv[2] ?? 20)

async function sandboxStart(cmd: string[]): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-bench-'))
  fs.chmodSync(dir, 0o711)
  const times: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const s = process.hrtime.bigint()
    const run = spawnSandboxed({
      workDir: path.join(dir, 'w'),
      command: cmd,
      env: {},
      memory: 256 * 1024 * 1024,
      cpu: 1000
    })
    await new Promise((resolve) => run.process.once('close', resolve))
    times.push(ms(s))
  }
  fs.rmSync(dir, { recursive: true, force: true })
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]
}

async function finalToRunning(): Promise<{ ms: number; rssKiB: number }> {
  const { t, done } = shim()
  const net = await startTestnet(3)
  t.teardown(() => net.destroy(), { order: Infinity })
  try {
    const b = await bot(t, net)
    const n = await node(t, net, b)
    await until(
      b.peer,
      async () => (await b.peer.client.offer(encodeKey(n.identity.publicKey))) !== null
    )
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
    // The daemon's idle RSS: a real `scit node start` process, measured once it is ready and has settled.
    const data = await t.tmp()
    const key = encodeKey(loadIdentity(data).publicKey)
    const child = spawn(
      '/usr/bin/setpriv',
      [
        '--pdeathsig',
        'KILL',
        '--',
        process.execPath,
        path.join(__dirname, '..', '..', 'lib', 'cli.js'),
        'node',
        'start',
        '--data',
        data,
        '--market',
        encodeKey(b.peer.key),
        '--bootstrap',
        net.bootstrap.map((x) => `${x.host}:${x.port}`).join(','),
        '--cpu',
        '1',
        '--memory',
        '1GiB',
        '--ssd',
        '1GiB',
        '--workloads',
        path.join(await t.tmp(), 'w')
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] }
    )
    t.teardown(
      () =>
        new Promise((resolve) => {
          child.once('exit', resolve)
          child.kill('SIGTERM')
        })
    )
    await new Promise<void>((resolve) =>
      child.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) resolve()
      })
    )
    await until(b.peer, async () => (await b.peer.client.offer(key)) !== null)
    await new Promise((resolve) => setTimeout(resolve, 3000)) // a benchmark, not a test: let it go idle
    const rss = Number(
      /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid ?? 0}/status`, 'utf8'))?.[1] ?? 0
    )

    return { ms: finalToRun, rssKiB: rss }
  } finally {
    await done()
  }
}

async function main(): Promise<void> {
  console.log(
    `sandbox start+exit, /usr/bin/true: median ${(await sandboxStart(['/usr/bin/true'])).toFixed(1)} ms over ${RUNS}`
  )
  console.log(
    `sandbox start+exit, node -e 0:     median ${(await sandboxStart(['node', '-e', '0'])).toFixed(1)} ms over ${RUNS}`
  )
  const r = await finalToRunning()
  console.log(
    `daemon idle RSS (scit node start, 1 market, 0 workloads): ${(r.rssKiB / 1024).toFixed(1)} MiB`
  )
  console.log(`settle final (as the bot sees it) to workload running: ${r.ms.toFixed(0)} ms`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
