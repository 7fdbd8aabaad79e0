/** Test helpers for real networking on a local testnet (127.0.0.1 only). */
import type { Assert } from 'brittle'
import type DHT from 'hyperdht'
import Hyperswarm from 'hyperswarm'
import type { SecretStream } from 'hyperdht'
import { startTestnet, Testnet } from '../../lib/testnet'
import { cuttable } from '../../lib/faults'
import { decodeKey } from '../../lib/keys'

/** A local DHT testnet, destroyed after every other teardown of the test. */
export async function testnet(t: Assert, size = 3): Promise<Testnet> {
  const net = await startTestnet(size)
  t.teardown(() => net.destroy(), { order: Infinity })
  return net
}

/** A swarm on its own DHT node of `net`, destroyed at teardown. */
export function swarm(
  t: Assert,
  net: Testnet,
  opts?: Parameters<Testnet['createSwarm']>[0]
): ReturnType<Testnet['createSwarm']> {
  const s = net.createSwarm(opts)
  t.teardown(() => s.destroy())
  return s
}

/**
 * A swarm whose streams with the peers `cut(key hex)` names fail, in and out, as the soak's fault hook does
 * (lib/faults.ts cuttable), and which gives a failed peer up after three quick retries, where hyperswarm's own take
 * 1, 5 and 15 s: until its next lookup of the topic (10 min), it dials that peer no more. Destroyed at teardown.
 */
export function quitter(t: Assert, net: Testnet, cut: (key: string) => boolean): Hyperswarm {
  const s = new Hyperswarm({
    dht: cuttable(net.createNode(), cut),
    backoffs: [100, 200, 300, 600_000],
    jitter: 0
  })
  t.teardown(() => s.destroy())
  return s
}

/**
 * A DHT node of `net` whose streams with the peers `cutFrom` names (z32 or hex keys), or with every peer after
 * `cutAll`, fail, in and out, existing ones too, as the soak's fault hook cuts them (lib/faults.ts cuttable). Hand
 * it to a Bot or swarm, which destroys it.
 */
export function cutDHT(net: Testnet): {
  dht: DHT
  cutFrom(...keys: string[]): void
  cutAll(): void
} {
  const cut = new Set<string>()
  let all = false
  const streams = new Map<SecretStream, string>()
  const dht = cuttable(net.createNode(), (key) => all || cut.has(key), {
    opened: (s, key) => {
      streams.set(s, key)
      s.once('close', () => streams.delete(s))
    }
  })
  return {
    dht,
    cutFrom(...keys) {
      for (const k of keys) cut.add(/^[0-9a-f]{64}$/.test(k) ? k : decodeKey(k).toString('hex'))
      for (const [s, k] of streams) if (cut.has(k)) s.destroy()
    },
    cutAll() {
      all = true
      for (const s of streams.keys()) s.destroy()
    }
  }
}

/** What of a DHT node's UDP layer (dht-rpc's io) `silence` reaches into. */
interface RawSocket {
  trySend(...args: unknown[]): void
  send(...args: unknown[]): Promise<boolean>
  removeAllListeners(event: string): void
}
interface RawRequest {
  timeout: number
}
interface RawIo {
  clientSocket: RawSocket
  serverSocket: RawSocket
  inflight: RawRequest[]
  createRequest(...args: unknown[]): RawRequest | null
}

/**
 * Make `dht` a node whose network answers nothing, slowly, as a network that is down: its datagrams go nowhere, what
 * comes is ignored, and each DHT request, its own and those in flight, waits `timeout` ms before it counts as lost
 * (dht-rpc's own wait is about a second, adapted to how fast the peer answered). Streams already open are left to a cut.
 */
export function silence(dht: DHT, timeout = 60_000): void {
  const io = (dht as unknown as { io: RawIo }).io
  for (const s of [io.clientSocket, io.serverSocket]) {
    s.trySend = () => {}
    s.send = async () => false
    s.removeAllListeners('message')
  }
  const create = io.createRequest.bind(io)
  io.createRequest = (...args) => {
    const req = create(...args)
    if (req !== null) req.timeout = timeout
    return req
  }
  for (const req of io.inflight) req.timeout = timeout
}
