/** Test helpers for real networking on a local testnet (127.0.0.1 only). */
import type { Assert } from 'brittle'
import { startTestnet, Testnet } from '../../lib/testnet'

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
