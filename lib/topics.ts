/**
 * Swarm topics. Each is a namespaced hash of a key, so that joining the
 * market's topic reveals nothing about other uses of the same key.
 */
import { hash } from './keys'

/** The Hyperswarm topic where a market's peers (indexers, nodes, bots, explorers) meet. */
export function marketTopic (marketKey: Uint8Array): Buffer {
  return hash('scit/topic/market', marketKey)
}

/** Where a contract's bot and its stakeholders meet to exchange approvals (bot/approvals.ts); the explorer joins it to fetch the contract core. */
export function approvalsTopic (contract: Buffer): Buffer {
  return hash('scit/topic/contract-approvals', contract)
}
