/**
 * Service keys (docs/ARCHITECTURE.md "Service access"): each replica serves each declared port under a
 * HyperDHT key of its own and names it in its signed status core with the contract, trade and workload.
 */
import b4a from 'b4a'
import { hash } from './keys'
import { generateKeyPair, KeyPair } from './identity'
import type { StatusRecord, WorkloadState } from './node-messages'
import { workloadId } from './trade-workload'

function portBytes(port: number): Buffer {
  const b = b4a.alloc(2)
  b.writeUInt16BE(port)
  return b
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

/** One port of one replica, as a client wants it. */
export interface ServiceRef {
  contract: Buffer
  trade: string
  workload: string
  port: number
}

/** States in which the key a record names is served. */
const SERVING: ReadonlySet<WorkloadState> = new Set(['starting', 'running'])

/**
 * The server key a node's verified status record names for `want`, or why
 * it names none: a record signed for another contract, trade, workload or
 * port binds nothing here, so a key published for one contract is never
 * taken for another.
 */
export function boundKey(r: StatusRecord, want: ServiceRef): { key: Buffer } | { reason: string } {
  if (r.contract === null || !b4a.equals(r.contract, want.contract))
    return { reason: 'its status record is signed for another contract' }
  if (r.trade !== want.trade || r.workload !== workloadId({ id: want.trade }))
    return { reason: `its status record is signed for another trade than ${want.trade}` }
  if (r.service !== want.workload)
    return {
      reason: `its status record is signed for workload ${r.service ?? '(none yet)'}, not ${want.workload}`
    }
  if (!SERVING.has(r.state))
    return { reason: `its status says ${r.state}${r.reason === '' ? '' : `: ${r.reason}`}` }
  const p = r.ports.find((x) => x.port === want.port)
  if (p === undefined) return { reason: `its status names no key for port ${want.port}` }
  return { key: p.key }
}
