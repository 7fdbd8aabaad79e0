/** Swarm topics are namespaced hashes, so joining one reveals nothing about other uses of the key. */
import { hash } from './keys'

export function marketTopic(marketKey: Uint8Array): Buffer {
  return hash('scit/topic/market', marketKey)
}

/**
 * A contract's topic: its bot and the nodes that run it serve the contract core there (so it is read while the bot
 * is offline), and the bot takes its stakeholders' approvals there.
 */
export function approvalsTopic(contract: Buffer): Buffer {
  return hash('scit/topic/contract-approvals', contract)
}
