/**
 * The one way scit opens a Hyperswarm. An all-loopback bootstrap gets a DHT node on
 * 127.0.0.1 declared `firewalled: false`: otherwise hole-punching stalls local connections.
 */
import Hyperswarm from 'hyperswarm'
import DHT from 'hyperdht'
import type { Bootstrap, Config } from './config'
import { faultable } from './faults'
import { raceTimeout, TIMED_OUT } from './timeout'

export interface SwarmKeyPair {
  publicKey: Buffer
  secretKey: Buffer
}

export function isLoopback(bootstrap: Bootstrap[] | null): bootstrap is Bootstrap[] {
  return (
    bootstrap !== null &&
    bootstrap.length > 0 &&
    bootstrap.every((b) => b.host === '127.0.0.1' || b.host === 'localhost')
  )
}

/** null: let Hyperswarm make its own. */
export function createDHT(bootstrap: Bootstrap[] | null): DHT | null {
  if (!isLoopback(bootstrap)) return null
  return faultable(new DHT({ bootstrap, host: '127.0.0.1', ephemeral: true, firewalled: false }))
}

/**
 * Connection attempts at once. Hyperswarm's default, 3, lets a few dead peers still announced on a topic (a node
 * that crashed) hold every slot until their handshakes time out, while the live indexer waits its turn.
 */
const MAX_PARALLEL = 16

/** The swarm owns its DHT node: `swarm.destroy()` closes both. */
export function createSwarm(config: Pick<Config, 'bootstrap'>, keyPair?: SwarmKeyPair): Hyperswarm {
  const dht = createDHT(config.bootstrap)
  if (dht !== null) return new Hyperswarm({ keyPair, dht, maxParallel: MAX_PARALLEL })
  return new Hyperswarm({
    keyPair,
    maxParallel: MAX_PARALLEL,
    ...(config.bootstrap !== null ? { bootstrap: config.bootstrap } : {})
  })
}

/** How long a closing swarm unannounces its topics and its key (on a network that answers: a few ms). */
export const UNANNOUNCE_WITHIN = 2000

/**
 * Destroy `swarm` and its DHT node, unannouncing for at most `ms`. Hyperswarm's own destroy awaits every unannounce,
 * which on a network that answers nothing waits for each DHT request to time out: a stop (Ctrl-C, SIGTERM) would
 * wait as long. Past `ms` the DHT node is destroyed, which fails its requests in flight, so what waited on them ends;
 * an announcement left behind lapses on its own.
 */
export async function destroySwarm(swarm: Hyperswarm, ms = UNANNOUNCE_WITHIN): Promise<void> {
  const graceful = swarm.destroy()
  if ((await raceTimeout(graceful, ms)) !== TIMED_OUT) return
  await swarm.dht.destroy({ force: true })
  await graceful
}

/** `swarm.leave(topic)`, unannouncing for at most `ms`: past it, the unannounce goes on, as destroySwarm bounds it. */
export async function leaveWithin(
  swarm: Hyperswarm,
  topic: Buffer,
  ms = UNANNOUNCE_WITHIN
): Promise<void> {
  await raceTimeout(swarm.leave(topic), ms)
}
