/** Swarm topics are namespaced hashes, so joining one reveals nothing about other uses of the key. */
import { hash } from './keys'

export function marketTopic(marketKey: Uint8Array): Buffer {
  return hash('scit/topic/market', marketKey)
}

/** Where a contract's bot and stakeholders exchange approvals; the explorer joins it for the contract core. */
export function approvalsTopic(contract: Buffer): Buffer {
  return hash('scit/topic/contract-approvals', contract)
}
