/** Test helpers for real networking on a local testnet (127.0.0.1 only). */
import type { Assert } from 'brittle'
import type DHT from 'hyperdht'
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
 * A DHT node of `net` whose streams with the peers `cutFrom` names (z32 or hex keys) fail, in and out, existing ones
 * too, as the soak's fault hook cuts them (lib/faults.ts cuttable). Hand it to a Bot or swarm, which destroys it.
 */
export function cutDHT(net: Testnet): { dht: DHT; cutFrom(...keys: string[]): void } {
  const cut = new Set<string>()
  const streams = new Map<SecretStream, string>()
  const dht = cuttable(net.createNode(), (key) => cut.has(key), {
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
    }
  }
}
