/**
 * Reaching a service through the DHT (`scit connect`, docs/ARCHITECTURE.md "Service access") on a
 * local testnet: three node daemons run a small HTTP service (3 replicas, in
 * their sandboxes, behind their bridges), a fourth waits; the bench talks to
 * it through a Tunnel as the bot, which dials only the replicas it
 * authenticated (connect/replicas.ts). Figures: the time to authenticate the
 * three, connect latency (a new TCP connection to the tunnel → first byte of
 * an answer), the throughput of one big download through the tunnel against
 * a raw HyperDHT stream in the same run (and this process's CPU per MiB for
 * each), HTTP GET req/s through the tunnel against the same server on the
 * host loopback, the time from a heal (the bot fails a replica's lease and
 * buys another) to the first connection the new replica serves, and the time
 * the first request takes once a replica's node stops (cleanly, or as if it
 * crashed: its DHT node gone). The market, nodes, bot and tunnel share this
 * process (as in the tests): the figures include that.
 *
 *   node dist/test/bench/connect.js [seconds per rate run, default 3]
 */
import fs from 'fs'
import path from 'path'
import http from 'http'
import { spawn, execFile } from 'child_process'
import { startTestnet } from '../../lib/testnet'
import { generateKeyPair } from '../../lib/identity'
import { decodeKey } from '../../lib/keys'
import { world, node, bot, healed } from '../helpers/deploy'
import { deploy, waitRunning } from '../../bot/deployment'
import { Tunnel } from '../../connect/tunnel'
import type { Bot } from '../../bot/bot'
import type { DeploymentRecord } from '../../bot/records'
import type { NodeDaemon } from '../../node/daemon'
import { freePort } from '../../node/workload'
import { shim, ms } from './shim'

const SECONDS = Number(process.argv[2] ?? 3)
const BIG_MIB = 64

const SERVER = `const http = require('http')
const chunk = Buffer.alloc(1 << 20)
http.createServer((req, res) => {
  if (req.url.startsWith('/big')) {
    const n = Number(req.url.split('=')[1] || 64)
    let i = 0
    const more = () => { while (i < n) { i++; if (!res.write(chunk)) return res.once('drain', more) } res.end() }
    res.writeHead(200, { 'content-length': n << 20 })
    return more()
  }
  res.end('ok')
}).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('up'))
`

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}

/** One GET on a new connection (or `agent`'s); resolves with ms to the first byte and the body length. */
function get(
  port: number,
  url: string,
  agent: http.Agent | false = false
): Promise<{ first: number; bytes: number }> {
  const start = process.hrtime.bigint()
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: url, agent }, (res) => {
        let first = -1
        let bytes = 0
        res.on('data', (d: Buffer) => {
          if (first < 0) first = ms(start)
          bytes += d.byteLength
        })
        res.on('end', () => resolve({ first, bytes }))
      })
      .on('error', reject)
  })
}

async function rate(
  port: number,
  seconds: number,
  concurrency: number,
  keepAlive: boolean
): Promise<number> {
  const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: concurrency }) : false
  const until = Date.now() + seconds * 1000
  let done = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until) {
        await get(port, '/', agent)
        done++
      }
    })
  )
  if (agent) agent.destroy()
  return done / seconds
}

/** GET `url` from another process, as a user's program would: bytes, and the seconds from request to end. */
function fetchApart(port: number, url: string): Promise<{ bytes: number; seconds: number }> {
  const code = `const s = process.hrtime.bigint(); let n = 0
require('http').get({ host: '127.0.0.1', port: ${port}, path: '${url}', agent: false }, (res) => {
  res.on('data', (d) => { n += d.byteLength })
  res.on('end', () => console.log(JSON.stringify({ bytes: n, seconds: Number(process.hrtime.bigint() - s) / 1e9 })))
})`
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', code], (err, stdout) => {
      if (err !== null) reject(err)
      else resolve(JSON.parse(stdout) as { bytes: number; seconds: number })
    })
  })
}

/** One download's MiB/s, and this process's CPU per MiB (ms). */
async function download(
  fn: () => Promise<{ bytes: number; seconds?: number }>
): Promise<{ mibs: number; cpu: number }> {
  const cpu = process.cpuUsage()
  const start = process.hrtime.bigint()
  const got = await fn()
  const { bytes } = got
  const seconds = got.seconds ?? ms(start) / 1000
  const used = process.cpuUsage(cpu)
  const mib = bytes / 1048576
  return { mibs: mib / seconds, cpu: (used.user + used.system) / 1000 / mib }
}

/**
 * The bot heals the third replica (fails its lease, buys the fourth node): how long until the new replica is
 * authenticated, and until it serves a connection, while requests keep coming.
 */
async function heal(
  d: DeploymentRecord,
  b: Bot,
  nodes: NodeDaemon[],
  tunnel: Tunnel,
  port: number
): Promise<void> {
  // Every replica served some of the requests before: a key carried for the first time is the new replica's.
  const known = new Set(tunnel.carried.keys())
  let authenticated = -1
  let served = -1
  let failed = 0
  const start = process.hrtime.bigint()
  const onreplicas = (): void => {
    if (authenticated < 0 && tunnel.replicaCount === 3) authenticated = ms(start)
  }
  tunnel.on('replicas', onreplicas)
  let running = -1
  const onrunning = (e: { state: string }): void => {
    if (running < 0 && e.state === 'running') running = ms(start)
  }
  for (const n of nodes) n.supervisor.on('transition', onrunning)
  const done = healed(b)
  const healing = b.monitor.heal(d, d.trades[2], 'bench: heal one replica')
  while (served < 0 && ms(start) < 60_000) {
    try {
      await get(port, '/')
    } catch {
      failed++
    }
    if ([...tunnel.carried.keys()].some((key) => !known.has(key))) served = ms(start)
  }
  tunnel.off('replicas', onreplicas)
  for (const n of nodes) n.supervisor.off('transition', onrunning)
  await healing
  console.log(
    `heal (${(await done).split(':')[0]}): the new replica ran on its node ${running.toFixed(0)} ms after the heal began (the old lease failed, a new one bought and settled), was authenticated at ${authenticated.toFixed(0)} ms (the client saw its trade live and its signed key), and served its first connection at ${served.toFixed(0)} ms (${failed} requests failed meanwhile)`
  )
}

async function main(): Promise<void> {
  const { t, done } = shim()
  const tn = await startTestnet(3)
  t.teardown(() => tn.destroy(), { order: Infinity })
  try {
    const w = await world(t, tn)
    const nodes = [await node(t, w), await node(t, w), await node(t, w), await node(t, w)]
    const b = await bot(t, w)
    const dir = await t.tmp()
    fs.writeFileSync(path.join(dir, 'server.js'), SERVER)
    fs.writeFileSync(
      path.join(dir, 'bench.yaml'),
      [
        'name: bench',
        'version: 1',
        'workloads:',
        '  - name: web',
        '    kind: service',
        '    files: [server.js]',
        '    command: [node, server.js]',
        '    ports: [8080]',
        '    replicas: 3',
        '    resources: { cpu: 500m, memory: 256MiB }',
        'placement: { countries: [CH], spread: true }',
        'duration: 1h',
        'budget: 100'
      ].join('\n') + '\n'
    )
    const d = await deploy(b, { template: path.join(dir, 'bench.yaml') })
    await waitRunning(b, d)
    const tunnel = new Tunnel({
      contract: decodeKey(d.contract ?? ''),
      market: w.key,
      keyPair: b.identity,
      dht: tn.createNode(),
      refresh: 1000
    })
    t.teardown(() => tunnel.close(), { order: -5 })
    const opened = process.hrtime.bigint()
    await tunnel.ready()
    const ready = ms(opened)
    while (tunnel.replicaCount < 3) await new Promise((resolve) => tunnel.once('replicas', resolve))
    console.log(
      `authentication: tunnel ready (market followed, contract read) ${ready.toFixed(0)} ms; all 3 replicas authenticated (their status cores read) ${ms(opened).toFixed(0)} ms`
    )
    const port = tunnel.address.port
    await get(port, '/')

    // The same server, on the host loopback: the baseline for HTTP.
    const directPort = await freePort()
    const direct = spawn(process.execPath, [path.join(dir, 'server.js')], {
      env: { PORT: String(directPort) },
      stdio: ['ignore', 'pipe', 'inherit']
    })
    t.teardown(() => {
      direct.kill()
    })
    await new Promise((resolve) => direct.stdout?.once('data', resolve))

    const lat: number[] = []
    for (let i = 0; i < 100; i++) lat.push((await get(port, '/')).first)
    const dlat: number[] = []
    for (let i = 0; i < 100; i++) dlat.push((await get(directPort, '/')).first)
    console.log(
      `connect latency (new TCP connection → first byte of GET /), 100 sequential, authenticated replicas only: tunnel p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms; direct p50 ${pct(dlat, 50).toFixed(2)} ms, p99 ${pct(dlat, 99).toFixed(2)} ms`
    )

    // A raw HyperDHT stream between two DHT nodes of the testnet, in this process: what the tunnel adds to.
    const a = tn.createNode()
    const c = tn.createNode()
    t.teardown(async () => {
      await a.destroy()
      await c.destroy()
    })
    const server = a.createServer({}, (s) => {
      s.on('error', () => {})
      const chunk = Buffer.alloc(1 << 20)
      let i = 0
      const more = (): void => {
        while (i < BIG_MIB) {
          i++
          if (!s.write(chunk)) {
            s.once('drain', more)
            return
          }
        }
        s.end()
      }
      more()
    })
    const kp = generateKeyPair()
    await server.listen(kp)
    const rawGet = (): Promise<{ first: number; bytes: number }> =>
      new Promise((resolve) => {
        const s = c.connect(kp.publicKey)
        let n = 0
        s.on('data', (x: Buffer) => {
          n += x.byteLength
        })
        s.on('end', () => {
          s.end()
          resolve({ first: 0, bytes: n })
        })
        s.on('error', () => resolve({ first: 0, bytes: n }))
      })
    // Interleaved, so both see the same load; this process's CPU per MiB says where the time goes. The tunnel's
    // client is a process of its own, as a user's is; the raw stream is read here, as a peer reads it.
    for (let round = 0; round < 2; round++) {
      const tun = await download(() => fetchApart(port, `/big?mb=${BIG_MIB}`))
      const raw = await download(rawGet)
      console.log(
        `throughput, one ${BIG_MIB} MiB download: through the tunnel ${tun.mibs.toFixed(1)} MiB/s (this process ${tun.cpu.toFixed(1)} ms CPU per MiB); raw HyperDHT stream ${raw.mibs.toFixed(1)} MiB/s (${raw.cpu.toFixed(1)} ms per MiB): ${((tun.mibs / raw.mibs) * 100).toFixed(0)} %`
      )
    }
    await server.close()

    const tKeep = await rate(port, SECONDS, 8, true)
    const dKeep = await rate(directPort, SECONDS, 8, true)
    const tNew = await rate(port, SECONDS, 8, false)
    const dNew = await rate(directPort, SECONDS, 8, false)
    console.log(
      `HTTP GET / req/s, 8 concurrent, ${SECONDS} s each: keep-alive tunnel ${tKeep.toFixed(0)} vs direct ${dKeep.toFixed(0)}; a new connection per request tunnel ${tNew.toFixed(0)} vs direct ${dNew.toFixed(0)}`
    )

    const hosts = d.trades.map((x) => nodes.find((n) => n.key === x.node))
    if (hosts.some((h) => h === undefined)) throw new Error('a replica on no node of the bench')
    await heal(d, b, nodes, tunnel, port)

    // Failover: one replica's node stops cleanly, then another's as if it crashed; how long do the requests after take, does any fail?
    const failover = async (what: string, kill: () => Promise<void>): Promise<void> => {
      await kill()
      const fo = process.hrtime.bigint()
      await get(port, '/')
      const first = ms(fo)
      const after: number[] = []
      let failed = 0
      for (let i = 0; i < 20; i++) {
        const s = process.hrtime.bigint()
        try {
          await get(port, '/')
          after.push(ms(s))
        } catch {
          failed++
        }
      }
      console.log(
        `failover, ${what}: the next request took ${first.toFixed(0)} ms; the 20 after it p50 ${pct(after, 50).toFixed(1)} ms, max ${Math.max(...after).toFixed(0)} ms, ${failed} failed`
      )
    }
    await failover("one of 3 replicas' node stopped cleanly", async () => {
      await hosts[0]?.close()
    })
    // A crash: the DHT node goes without unannouncing, its records stay on the topic until they expire.
    await failover(
      'one of the 2 left crashed (its DHT node gone, its lease still live)',
      async () => {
        await hosts[1]?.swarm.dht.destroy({ force: true })
      }
    )
  } finally {
    await done()
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err) => {
    console.error(err)
    process.exit(1)
  }
)
