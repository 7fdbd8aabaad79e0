/**
 * Reaching a service through the DHT (`scit connect`, docs/ARCHITECTURE.md "Service access") on a
 * local testnet: three node daemons run a small HTTP service (3 replicas, in
 * their sandboxes, behind their bridges); the bench talks to it through a
 * Tunnel as the bot. Figures: connect latency (a new TCP connection to the
 * tunnel → first byte of an answer), the throughput of one big download
 * through the tunnel against a raw HyperDHT stream, HTTP GET req/s through
 * the tunnel against the same server on the host loopback, and the time the
 * first request takes once a replica's node stops (cleanly: it unannounces;
 * or as if it crashed: its DHT node gone, its records left). The market, nodes, bot and
 * tunnel share this process (as in the tests): the figures include that.
 *
 *   node dist/test/bench/connect.js [seconds per rate run, default 3]
 */
import fs from 'fs'
import path from 'path'
import http from 'http'
import { spawn } from 'child_process'
import { startTestnet } from '../../lib/testnet'
import { generateKeyPair } from '../../lib/identity'
import { decodeKey } from '../../lib/keys'
import { world, node, bot } from '../helpers/deploy'
import { deploy, waitRunning } from '../../bot/deployment'
import { Tunnel } from '../../connect/tunnel'
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

async function main(): Promise<void> {
  const { t, done } = shim()
  const tn = await startTestnet(3)
  t.teardown(() => tn.destroy(), { order: Infinity })
  try {
    const w = await world(t, tn)
    const nodes = [await node(t, w), await node(t, w), await node(t, w)]
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
    await tunnel.ready()
    await tunnel.waitReplica()
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
      `connect latency (new TCP connection → first byte of GET /), 100 sequential: tunnel p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms; direct p50 ${pct(dlat, 50).toFixed(2)} ms, p99 ${pct(dlat, 99).toFixed(2)} ms`
    )

    const big = process.hrtime.bigint()
    const got = await get(port, `/big?mb=${BIG_MIB}`)
    const tunnelMiB = got.bytes / 1048576 / (ms(big) / 1000)
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
    const raw = process.hrtime.bigint()
    const rawBytes = await new Promise<number>((resolve) => {
      const s = c.connect(kp.publicKey)
      let n = 0
      s.on('data', (x: Buffer) => {
        n += x.byteLength
      })
      s.on('end', () => {
        s.end()
        resolve(n)
      })
      s.on('error', () => resolve(n))
    })
    const rawMiB = rawBytes / 1048576 / (ms(raw) / 1000)
    await server.close()
    console.log(
      `throughput, one ${BIG_MIB} MiB download: through the tunnel ${tunnelMiB.toFixed(1)} MiB/s; raw HyperDHT stream ${rawMiB.toFixed(1)} MiB/s`
    )

    const tKeep = await rate(port, SECONDS, 8, true)
    const dKeep = await rate(directPort, SECONDS, 8, true)
    const tNew = await rate(port, SECONDS, 8, false)
    const dNew = await rate(directPort, SECONDS, 8, false)
    console.log(
      `HTTP GET / req/s, 8 concurrent, ${SECONDS} s each: keep-alive tunnel ${tKeep.toFixed(0)} vs direct ${dKeep.toFixed(0)}; a new connection per request tunnel ${tNew.toFixed(0)} vs direct ${dNew.toFixed(0)}`
    )

    // Failover: one replica's node stops cleanly, then another's as if it crashed; how long do the requests after take, does any fail?
    const hosts = d.trades.map((x) => nodes.find((n) => n.key === x.node))
    if (hosts.some((h) => h === undefined)) throw new Error('a replica on no node of the bench')
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
      'one of the 2 left crashed (its DHT node gone, its announcement left)',
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
