/** Which nodes are live, by their signed DHT presence records; one that does not verify or names another market is never used. */
import b4a from 'b4a'
import type DHT from 'hyperdht'
import { decodeKey, encodeKey } from '../../lib/keys'
import { raceTimeout, TIMED_OUT } from '../../lib/timeout'
import { marketTopic } from '../../lib/topics'
import { lookupPresence } from '../../lib/presence'
import type { PresenceRecord } from '../../lib/node-messages'
import type { KeyText } from '../types'
import safetyCatch from 'safety-catch'

export type PresenceState = 'verified' | 'missing' | 'invalid' | 'timeout'

export interface NodePresence {
  state: PresenceState
  /** The record's signed timestamp (ms since the epoch): when the node last said it was there. */
  lastSeen: number | null
  record: PresenceRecord | null
  error: string | null
}

export interface LookupOptions {
  timeout?: number
  concurrency?: number
}

export const DEFAULT_LOOKUP_TIMEOUT = 10_000

/** Never throws: the state says what was found. */
export async function presenceOf(
  dht: DHT,
  market: Buffer,
  node: KeyText,
  opts: LookupOptions = {}
): Promise<NodePresence> {
  const timeout = opts.timeout ?? DEFAULT_LOOKUP_TIMEOUT
  try {
    const found = await raceTimeout(lookupPresence(dht, decodeKey(node, 'node key')), timeout)
    if (found === TIMED_OUT)
      return {
        state: 'timeout',
        lastSeen: null,
        record: null,
        error: `no answer from the DHT within ${timeout} ms`
      }
    if (found === null) return { state: 'missing', lastSeen: null, record: null, error: null }
    if (!b4a.equals(found.record.market, market))
      return {
        state: 'invalid',
        lastSeen: found.timestamp,
        record: null,
        error: `the record is for market ${encodeKey(found.record.market)}`
      }
    return { state: 'verified', lastSeen: found.timestamp, record: found.record, error: null }
  } catch (err) {
    return { state: 'invalid', lastSeen: null, record: null, error: (err as Error).message }
  }
}

export async function presences(
  dht: DHT,
  market: Buffer,
  nodes: KeyText[],
  opts: LookupOptions = {}
): Promise<Map<KeyText, NodePresence>> {
  const out = new Map<KeyText, NodePresence>()
  const queue = [...new Set(nodes)]
  const worker = async (): Promise<void> => {
    for (let node = queue.shift(); node !== undefined; node = queue.shift())
      out.set(node, await presenceOf(dht, market, node, opts))
  }
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 8, queue.length) }, worker))
  return out
}

/** Keys announced on the market topic: nodes, bots and indexers alike (only a presence record tells a node apart). */
export async function announced(
  dht: DHT,
  market: Buffer,
  opts: { timeout?: number } = {}
): Promise<KeyText[]> {
  const found = new Set<KeyText>()
  const query = dht.lookup(marketTopic(market))
  const walk = (async () => {
    for await (const reply of query) for (const p of reply.peers) found.add(encodeKey(p.publicKey))
  })().catch(safetyCatch)
  if ((await raceTimeout(walk, opts.timeout ?? DEFAULT_LOOKUP_TIMEOUT)) === TIMED_OUT)
    query.destroy()
  return [...found]
}
