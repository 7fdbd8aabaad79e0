/**
 * Mirror figures: how fast a node takes in a mirror (settle to fully held,
 * verification and Merkle checks included) and a storage challenge's round
 * trip from another peer, on a local testnet (one machine: replication speed
 * here is CPU, not network).
 *   node .dist-h/test/bench/mirror.js [MiB] [challenges]
 */
import b4a from 'b4a'
import sodium from 'sodium-universal'
import type { SwarmConnection } from 'hyperswarm'
import { startTestnet } from '../../lib/testnet'
import { ZERO, MiB } from '../../lib/resources'
import { encodeKey } from '../../lib/keys'
import { workloadId } from '../../lib/trade-workload'
import { NodeChannel } from '../../lib/node-protocol'
import { signedHead } from '../../lib/storage-proof'
import { shim, ms } from './shim'
import {
  peerBot,
  node,
  workload,
  manifest,
  buy,
  contract,
  settle,
  nodeTransition
} from '../helpers/node-bot'
import { until } from '../helpers/ledger'

const SIZE = Number(process.argv[2] ?? 64) * MiB
const CHALLENGES = Number(process.argv[3] ?? 50)
async function main(): Promise<void> {
  const { t, done } = shim()
  const net = await startTestnet(3)
  t.teardown(() => net.destroy(), { order: Infinity })
  try {
    const b = await peerBot(t, net)
    const n = await node(t, net, b, {
      capacity: { ...ZERO, cpu: 1000, memory: 1024 * MiB, hdd: 2 * SIZE }
    })
    await until(
      b.peer,
      async () => (await b.peer.client.offer(encodeKey(n.identity.publicKey))) !== null
    )
    const src = b.peer.store?.get({ name: 'bench-mirror' })
    if (!src) throw new Error('no bot store')
    await src.ready()
    for (let i = 0; i < SIZE / (64 * 1024); i += 64) {
      const batch = Array.from({ length: 64 }, () => {
        const x = b4a.alloc(64 * 1024)
        sodium.randombytes_buf(x)
        return x
      })
      await src.append(batch)
    }
    const m = manifest(
      workload({
        kind: 'mirror',
        command: [],
        restart: 'never',
        resources: { ...ZERO, hdd: 2 * SIZE },
        mirror: { size: SIZE, source: src.key }
      })
    )
    const trade = await buy(b, m)
    const w = await contract(t, b, m, [trade], {})
    const running = nodeTransition(
      n,
      workloadId({ id: trade }),
      (tr) => tr.state === 'running' || tr.state === 'failed'
    )
    const s = process.hrtime.bigint()
    await settle(b, trade, w, m)
    const tr = await running
    const took = ms(s)
    console.log(
      `mirror of ${SIZE / MiB} MiB: ${tr.state} (${tr.reason}) ${took.toFixed(0)} ms after settle, ${(SIZE / MiB / (took / 1000)).toFixed(1)} MiB/s`
    )

    const swarm = net.createSwarm()
    t.teardown(() => swarm.destroy())
    const ch = await new Promise<NodeChannel>((resolve) => {
      swarm.on('connection', (conn: SwarmConnection) => {
        conn.on('error', () => {})
        resolve(NodeChannel.attach(conn, null))
      })
      swarm.joinPeer(n.identity.publicKey)
    })
    const head = await signedHead(src)
    if (head === null) throw new Error('no signed head')
    const times: number[] = []
    for (let i = 0; i < CHALLENGES; i++) {
      const c = process.hrtime.bigint()
      const verdict = await ch.challenge(src.key, head, 8)
      times.push(ms(c))
      if (!verdict.ok) throw new Error(`a challenge did not verify: ${verdict.reason}`)
    }
    ch.close()
    times.sort((a, b) => a - b)
    console.log(
      `storage challenge (8 random 64 KiB blocks with their Merkle paths, verified) round trip: median ${times[Math.floor(times.length / 2)].toFixed(2)} ms, max ${times[times.length - 1].toFixed(2)} ms over ${CHALLENGES}`
    )
  } finally {
    await done()
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
