/** Growing a market's set of indexers by governance votes (docs/ARCHITECTURE.md "Market ledger"). */
import { ScitError } from '../lib/errors'
import type { MarketPeer } from './peer'

export async function untilIndexer(p: MarketPeer): Promise<void> {
  const base = p.full.base
  if (base.isIndexer) return
  await new Promise<void>((resolve) => {
    const done = (): void => {
      base.off('is-indexer', done)
      resolve()
    }
    base.on('is-indexer', done)
    if (base.isIndexer) done()
  })
}

/** `voters` must be a strict majority of the current indexers; resolves once the joiner indexes. */
export async function addIndexer(voters: MarketPeer[], joiner: MarketPeer): Promise<void> {
  if (joiner.identity === null)
    throw new ScitError('INVALID_ARGUMENT', 'an indexer needs an identity')
  const body = {
    action: 'add-indexer',
    identity: joiner.identity.publicKey,
    writer: joiner.full.writerKey
  }
  for (const v of voters) {
    const [id] = await v.client.submit([{ type: 'governance', body }])
    const o = await v.client.outcome(id)
    if (!o.accepted)
      throw new ScitError(
        'REJECTED',
        `the add-indexer vote was refused: ${o.reason ?? ''} ${o.message ?? ''}`
      )
  }
  await untilIndexer(joiner)
}
