/**
 * Selling (ARCHITECTURE §2-3): the node's one offer in the market ledger. The
 * node posts its whole capacity; the engine subtracts leases from it as they
 * start and adds them back as they end, so the node only re-posts when its
 * own flags (capacity, prices, location, lease bounds) changed.
 */
import { ScitError } from '../lib/errors'
import { logger } from '../lib/log'
import type { Resources } from '../lib/resources'
import type { Client } from '../market/client'
import type { OfferBody, KeyText } from '../market/types'

const log = logger('node/offer')

export interface OfferFlags {
  capacity: Resources
  prices: Resources
  country: string
  city: string
  attributes: string[]
  minLease?: number
  maxLease?: number
}

export function offerBody (o: OfferFlags): OfferBody {
  return {
    resources: o.capacity,
    prices: o.prices,
    country: o.country.toUpperCase(),
    city: o.city,
    attributes: [...new Set(o.attributes)].sort(),
    minLease: o.minLease ?? 60_000,
    maxLease: o.maxLease ?? 365 * 24 * 3_600_000
  }
}

/** An op appended before the view has the market's genesis would be rejected (no-genesis): wait for it. */
export async function caughtUp (client: Pick<Client, 'time' | 'on' | 'off'>): Promise<void> {
  if (await client.time() > 0) return
  log.info('waiting for the market ledger to replicate')
  await new Promise<void>(resolve => {
    const check = (): void => {
      client.time().then(t => { if (t > 0) { client.off('update', check); resolve() } }, () => {})
    }
    client.on('update', check)
    check()
  })
}

/** Post the offer, or update it when the flags changed. */
export async function keepOffer (client: Pick<Client, 'offer' | 'submitAndWait'>, node: KeyText, body: OfferBody): Promise<void> {
  const current = await client.offer(node)
  if (current && !current.withdrawn && JSON.stringify(pick(current)) === JSON.stringify(pick(body))) return
  const [outcome] = await client.submitAndWait([{ type: current && !current.withdrawn ? 'offer-update' : 'offer', body }], { final: false })
  if (!outcome.accepted) throw new ScitError('REJECTED', `the market refused the offer: ${outcome.reason ?? ''} ${outcome.message ?? ''}`)
}

function pick (o: OfferBody): OfferBody {
  return { resources: o.resources, prices: o.prices, country: o.country, city: o.city, attributes: o.attributes, minLease: o.minLease, maxLease: o.maxLease }
}
