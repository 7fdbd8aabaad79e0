/**
 * A service's address is its contract (ARCHITECTURE §9). Every replica of a
 * service port announces, on a DHT topic anyone holding the contract key can
 * derive, the key of a HyperDHT server it runs for that port alone; its
 * firewall admits only the keys the contract allows (lib/access.ts). Shared
 * by the node (node/services.ts) and `scit connect` (connect/).
 */
import b4a from 'b4a'
import { hash } from './keys'
import { generateKeyPair, KeyPair } from './identity'

function portBytes(port: number): Buffer {
  const b = b4a.alloc(2)
  b.writeUInt16BE(port)
  return b
}

/** Where the replicas of `workload`:`port` of a contract announce themselves. */
export function serviceTopic(contract: Buffer, workload: string, port: number): Buffer {
  return hash('scit/topic/service', contract, b4a.from(workload), portBytes(port))
}

/**
 * The key pair of one replica's server for one port: derived from the node's
 * secret, so a restarted node serves under the same key, and from the
 * workload (trade) id, so no two replicas or ports share a server.
 */
export function serviceKeyPair(node: KeyPair, workloadId: string, port: number): KeyPair {
  return generateKeyPair(
    hash('scit/service-key', node.secretKey, b4a.from(workloadId), portBytes(port))
  )
}
