/** A local HyperDHT testnet: one DHT node per swarm, since two swarms sharing one may never see each other. */
import createTestnet from 'hyperdht/testnet'
import DHT from 'hyperdht'
import Hyperswarm from 'hyperswarm'
import type { Bootstrap } from './config'

export interface Testnet {
  bootstrap: Bootstrap[]
  createNode(): DHT
  /** A fresh Hyperswarm on its own DHT node. Destroy it yourself, before the testnet. */
  createSwarm(opts?: { keyPair?: { publicKey: Buffer; secretKey: Buffer } }): Hyperswarm
  destroy(): Promise<void>
}

export async function startTestnet(size = 3): Promise<Testnet> {
  const net = await createTestnet(size, { host: '127.0.0.1' })
  return {
    bootstrap: net.bootstrap,
    createNode: () => net.createNode(),
    createSwarm: (opts = {}) => new Hyperswarm({ dht: net.createNode(), ...opts }),
    destroy: () => net.destroy()
  }
}
