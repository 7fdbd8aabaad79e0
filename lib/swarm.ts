/**
 * The one way scit opens a Hyperswarm, so node, bot and market CLIs reach the
 * same network the same way: the public HyperDHT when no bootstrap is
 * configured, or the given bootstrap nodes.
 *
 * A bootstrap list that is all loopback (a local testnet, `scit demo`) gets a
 * DHT node bound to 127.0.0.1 and declared reachable (`firewalled: false`). A
 * node that thinks it may be firewalled tries hole-punching and a LAN shortcut
 * over the machine's other interfaces first, which stalls connections between
 * processes on one machine for 15 s or more.
 */
import Hyperswarm from 'hyperswarm'
import DHT from 'hyperdht'
import type { Bootstrap, Config } from './config'

export interface SwarmKeyPair { publicKey: Buffer; secretKey: Buffer }

/** Is every bootstrap node on this machine? */
export function isLoopback (bootstrap: Bootstrap[] | null): bootstrap is Bootstrap[] {
  return bootstrap !== null && bootstrap.length > 0 && bootstrap.every(b => b.host === '127.0.0.1' || b.host === 'localhost')
}

/** The DHT node a swarm for `bootstrap` should use; null: let Hyperswarm make its own. */
export function createDHT (bootstrap: Bootstrap[] | null): DHT | null {
  if (!isLoopback(bootstrap)) return null
  return new DHT({ bootstrap, host: '127.0.0.1', ephemeral: true, firewalled: false })
}

/** A Hyperswarm under `keyPair` on the network `config` names. The swarm owns its DHT node: `swarm.destroy()` closes both. */
export function createSwarm (config: Pick<Config, 'bootstrap'>, keyPair?: SwarmKeyPair): Hyperswarm {
  const dht = createDHT(config.bootstrap)
  if (dht !== null) return new Hyperswarm({ keyPair, dht })
  return new Hyperswarm({ keyPair, ...(config.bootstrap !== null ? { bootstrap: config.bootstrap } : {}) })
}
