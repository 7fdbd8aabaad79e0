/**
 * Growing a market's set of indexers (ARCHITECTURE §2): the current indexers
 * each sign a `governance add-indexer` op naming the newcomer's identity and
 * its writer key; the engine applies the change once a strict majority of
 * them voted, and Autobase then lets the newcomer sign the order.
 *
 *   await addIndexer([founder], second)
 *   await addIndexer([founder, second], third)
 */
import { ScitError } from '../lib/errors'
import type { MarketPeer } from './peer'

/** Resolve when `p` is an indexer of its market (Autobase says so once the addWriter is applied). */
export async function untilIndexer (p: MarketPeer): Promise<void> {
  const base = p.full.base
  if (base.isIndexer) return
  await new Promise<void>(resolve => {
    const done = (): void => { base.off('is-indexer', done); resolve() }
    base.on('is-indexer', done)
    if (base.isIndexer) done()
  })
}

/**
 * Make `joiner` an indexer: every peer in `voters` (current indexers; a strict
 * majority of them is needed) signs an add-indexer vote, then wait until the
 * joiner indexes.
 */
export async function addIndexer (voters: MarketPeer[], joiner: MarketPeer): Promise<void> {
  if (joiner.identity === null) throw new ScitError('INVALID_ARGUMENT', 'an indexer needs an identity')
  const body = { action: 'add-indexer', identity: joiner.identity.publicKey, writer: joiner.full.writerKey }
  for (const v of voters) {
    const [id] = await v.client.submit([{ type: 'governance', body }])
    const o = await v.client.outcome(id)
    if (!o.accepted) throw new ScitError('REJECTED', `the add-indexer vote was refused: ${o.reason ?? ''} ${o.message ?? ''}`)
  }
  await untilIndexer(joiner)
}
