/**
 * Joining a market as it grows (`npm run bench -- join`): one indexer on a
 * local testnet takes N ops of history (200 nodes re-pricing their offers, 20
 * bots bidding and cancelling: live state stays the same size), then, at each N:
 *
 *   - a fresh `scit market info --json` child process: wall time to a correct
 *     answer, its peak RSS;
 *   - a fresh follower child process: time to its first read (the genesis),
 *     then to read every offer (the answer grows with live state, not history),
 *     engine runs; then its CPU while the market takes 50 ops/s for 10 s;
 *   - the indexer's append rate for the step and its RSS.
 *
 *   JOIN_N=1000,10000,100000 (default 1000,10000)
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { spawn, fork } from 'child_process'
import { startTestnet } from '../../lib/testnet'
import { generateKeyPair } from '../../lib/identity'
import { parseBootstrap } from '../../lib/config'
import { MarketPeer } from '../../market/peer'
import { HyperbeeView } from '../../market/hyperbee-view'
import * as Q from '../../market/queries'
import { history, offerOp, steady } from '../helpers/ledger'

const CLI = path.join(__dirname, '..', '..', 'lib', 'cli.js')
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'scit-bench-join-'))

async function probe(): Promise<void> {
  const [market, bootstrap] = process.argv.slice(3)
  const started = Date.now()
  const peer = new MarketPeer({
    data: tmp(),
    identity: null,
    market: Buffer.from(market, 'hex'),
    bootstrap: parseBootstrap(bootstrap),
    announce: false,
    follow: true
  })
  await peer.ready()
  const view = HyperbeeView.reading(peer.ledger.view)
  const genesis = await Q.getGenesis(view)
  const ms = Date.now() - started
  const offers = (await Q.listOffers(view)).length
  process.send?.({
    kind: 'joined',
    ms,
    genesis: genesis !== null,
    offersMs: Date.now() - started - ms,
    offers,
    envelopes: peer.ledger.counters.envelopes
  })
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'cpu-start') {
      cpu = process.cpuUsage()
      at = process.hrtime.bigint()
    }
    if (m.cmd === 'cpu-stop') {
      const used = process.cpuUsage(cpu)
      const wall = Number(process.hrtime.bigint() - at) / 1e3
      process.send?.({
        kind: 'cpu',
        share: (used.user + used.system) / wall,
        envelopes: peer.ledger.counters.envelopes,
        rss: process.memoryUsage().rss
      })
    }
    if (m.cmd === 'close')
      peer.close().then(
        () => process.exit(0),
        () => process.exit(1)
      )
  })
  let cpu = process.cpuUsage()
  let at = process.hrtime.bigint()
}

/** What probe() sends: 'joined' then 'cpu' (each message carries its own fields). */
interface ProbeMessage {
  kind: string
  ms: number
  genesis: boolean
  offersMs: number
  offers: number
  envelopes: number
  share: number
  rss: number
}

/** A fresh `scit node start` child: ms until it printed ready (its offer final), then SIGTERM. */
function nodeReady(market: string, bootstrap: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const args = ['node', 'start', '--data', tmp(), '--market', market, '--bootstrap', bootstrap]
    const capacity = ['--cpu', '1', '--memory', '2GiB', '--ssd', '1GiB', '--price-cpu', '100']
    const more = ['--price-memory', '10', '--workloads', tmp(), '--unsafe-no-sandbox']
    const child = spawn(process.execPath, [CLI, ...args, ...capacity, ...more], {
      stdio: ['ignore', 'pipe', 'ignore']
    })
    let ready: number | null = null
    child.stdout.on('data', (d: Buffer) => {
      if (ready !== null || !d.toString().includes('ready')) return
      ready = Date.now() - started
      child.kill('SIGTERM')
    })
    child.once('exit', (code) => {
      if (ready !== null) resolve(ready)
      else reject(new Error(`scit node start exited ${code} before ready`))
    })
  })
}

function runCli(
  args: string[]
): Promise<{ ms: number; rssKiB: number; out: string; code: number | null }> {
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn('/usr/bin/time', ['-f', '%M', process.execPath, CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      err += d
    })
    child.on('close', (code) => {
      const lines = err.trim().split('\n')
      resolve({ ms: Date.now() - started, rssKiB: Number(lines[lines.length - 1]), out, code })
    })
  })
}

async function main(): Promise<void> {
  if (process.argv[2] === 'probe') return probe()
  const steps = (process.env.JOIN_N ?? '1000,10000').split(',').map(Number)
  const net = await startTestnet(3)
  const bootstrap = net.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  const identity = generateKeyPair()
  const indexer = new MarketPeer({
    data: tmp(),
    identity,
    dht: net.createNode(),
    genesis: { faucets: [identity.publicKey], settlementWindow: 600_000 }
  })
  await indexer.ready()
  const market = indexer.key.toString('hex')
  let grown = 0
  const live = steady() // 200 nodes re-pricing, 20 bots bidding and cancelling: history grows, live state does not
  console.log(
    '| ops of history | explorer `market info` | its RSS | follower: first read | all offers read | its engine runs | follower CPU at 50 ops/s | `scit node start`: offer final | indexer append rate | indexer RSS |'
  )
  console.log('|---|---|---|---|---|---|---|---|---|---|')
  for (const n of steps) {
    const started = Date.now()
    await history(indexer, n - grown, live)
    const rate = (n - grown) / ((Date.now() - started) / 1000)
    grown = n
    const expected = (await Q.listOffers(HyperbeeView.reading(indexer.ledger.view))).length

    const info = await runCli([
      'market',
      'info',
      '--json',
      '--market',
      market,
      '--bootstrap',
      bootstrap,
      '--data',
      tmp()
    ])
    const answer = info.code === 0 ? (JSON.parse(info.out) as { offers: number }) : null
    const correct = answer !== null && answer.offers === expected

    const child = fork(__filename, ['probe', market, bootstrap], { stdio: 'inherit' })
    const next = (): Promise<ProbeMessage> =>
      new Promise((resolve) => child.once('message', resolve))
    const joined = await next()
    // The market takes 50 ops/s from others while the follower only follows.
    child.send({ cmd: 'cpu-start' })
    const load = new MarketPeer({
      data: tmp(),
      identity: generateKeyPair(),
      dht: net.createNode(),
      market: indexer.key,
      follow: true,
      announce: false
    })
    await load.ready()
    await load.client.submit([offerOp()])
    const until = Date.now() + 10_000
    let price = 10
    while (Date.now() < until) {
      const tick = Date.now()
      await load.client.submit(
        Array.from({ length: 5 }, () => ({
          type: 'offer-update',
          body: offerOp({ price: price++ }).body
        }))
      )
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 100 - (Date.now() - tick))))
    }
    child.send({ cmd: 'cpu-stop' })
    const cpu = await next()
    child.send({ cmd: 'close' })
    await load.close()
    const node = await nodeReady(market, bootstrap)
    console.log(
      `| ${n.toLocaleString('en')} | ${(info.ms / 1000).toFixed(1)} s${correct ? '' : ' (WRONG)'} | ${(info.rssKiB / 1024).toFixed(0)} MiB | ${(joined.ms / 1000).toFixed(1)} s | ${joined.offers} in ${(joined.offersMs / 1000).toFixed(1)} s | ${joined.envelopes} | ${(cpu.share * 100).toFixed(1)} % | ${(node / 1000).toFixed(1)} s | ${rate.toFixed(0)} ops/s | ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB |`
    )
  }
  await indexer.close()
  await net.destroy()
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
