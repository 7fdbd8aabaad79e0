/**
 * Selling (docs/ARCHITECTURE.md "Market ledger", "Engine"): the node's one offer holds its whole capacity; the
 * engine subtracts and returns leases, so it is re-posted only when the flags change.
 */
import { ScitError } from '../lib/errors'
import { logger } from '../lib/log'
import { isCountry } from '../lib/countries'
import { RESOURCE_KINDS, Resources } from '../lib/resources'
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

/** Default prices (per resource-hour, smallest unit): the demo fleet's, which every example template's budget affords. */
export const DEFAULT_PRICES: Readonly<Resources> = Object.freeze({
  cpu: 10,
  memory: 1,
  ssd: 1,
  hdd: 1,
  ipv4: 2,
  gpu: 100
})

const ATTRIBUTE = /^[a-z0-9][a-z0-9._-]*$/
const MAX_ATTRIBUTES = 32
const MAX_ATTRIBUTE = 32
const MAX_CITY = 64

/** The market's offer rules and a real country, checked before the node opens its store or joins anything. */
export function checkOffer(b: OfferBody): void {
  const bad = (msg: string): never => {
    throw new ScitError('INVALID_ARGUMENT', msg)
  }
  if (!isCountry(b.country))
    bad(`--country "${b.country}" is not an ISO 3166-1 alpha-2 country code (e.g. CH, DE, US)`)
  if (b.city.length > MAX_CITY)
    bad(`--city is ${b.city.length} characters, the limit is ${MAX_CITY}`)
  if (b.attributes.length > MAX_ATTRIBUTES)
    bad(`--attr lists ${b.attributes.length} attributes, the limit is ${MAX_ATTRIBUTES}`)
  for (const a of b.attributes) {
    if (a.length > MAX_ATTRIBUTE || !ATTRIBUTE.test(a))
      bad(
        `--attr "${a}": an attribute is lower-case letters, digits, ".", "_" or "-", at most ${MAX_ATTRIBUTE} characters`
      )
  }
  for (const k of RESOURCE_KINDS) {
    if (!Number.isSafeInteger(b.prices[k]) || b.prices[k] < 0)
      bad(`--price-${k} must be a whole number from 0 to 2^53, got ${b.prices[k]}`)
  }
  if (!Number.isSafeInteger(b.minLease) || b.minLease < 0)
    bad(`--min-lease must be a whole number of ms, got ${b.minLease}`)
  if (!Number.isSafeInteger(b.maxLease) || b.maxLease < 1)
    bad(`--max-lease must be a whole number of ms, at least 1, got ${b.maxLease}`)
  if (b.minLease > b.maxLease)
    bad(`--min-lease ${b.minLease} is above --max-lease ${b.maxLease}: no lease could be sold`)
}

export function offerBody(o: OfferFlags): OfferBody {
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
export async function caughtUp(client: Pick<Client, 'time' | 'on' | 'off'>): Promise<void> {
  if ((await client.time()) > 0) return
  log.info('waiting for the market ledger to replicate')
  await new Promise<void>((resolve) => {
    const check = (): void => {
      client.time().then(
        (t) => {
          if (t > 0) {
            client.off('update', check)
            resolve()
          }
        },
        () => {}
      )
    }
    client.on('update', check)
    check()
  })
}

/**
 * Refusals that this node's own ops explain when its view is behind them (a withdrawal sent as it stopped, or an
 * offer sent before a crash, that the restarted node's view does not show yet; a seq from before a store was
 * lost): offer and offer-update were chosen on that view. Once it catches up, the next try chooses right.
 */
const RACES = new Set(['bad-state', 'not-found', 'replay'])
const TRIES = 8
const BACKOFF = 8000

/**
 * Post or update the offer; `renew` re-posts it unchanged, since a market with an
 * offer TTL sells only renewed offers (same prices keep its place in the book).
 */
export async function keepOffer(
  client: Pick<Client, 'offer' | 'submitAndWait'>,
  node: KeyText,
  body: OfferBody,
  opts: { renew?: boolean; stopped?: () => boolean } = {}
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    if (opts.stopped?.() === true) return // withdrawn meanwhile: nothing to post again
    const current = await client.offer(node)
    const live = current !== null && !current.withdrawn
    if (opts.renew !== true && live && JSON.stringify(pick(current)) === JSON.stringify(pick(body)))
      return
    const [outcome] = await client.submitAndWait(
      [{ type: live ? 'offer-update' : 'offer', body }],
      { final: false }
    )
    if (outcome.accepted) return
    const why = `${outcome.reason ?? ''} ${outcome.message ?? ''}`
    if (!RACES.has(outcome.reason ?? '') || attempt >= TRIES)
      throw new ScitError('REJECTED', `the market refused the offer: ${why}`)
    log.info('the offer raced an op of this node its view did not show yet: trying again', {
      why
    })
    await new Promise((resolve) => setTimeout(resolve, Math.min(BACKOFF, 500 * 2 ** attempt)))
  }
}

function pick(o: OfferBody): OfferBody {
  return {
    resources: o.resources,
    prices: o.prices,
    country: o.country,
    city: o.city,
    attributes: o.attributes,
    minLease: o.minLease,
    maxLease: o.maxLease
  }
}

/** Withdraw the node's live offer; false (logged) when the market did not make it final within `timeout` ms. */
export async function withdrawOffer(
  client: Pick<Client, 'offer' | 'submitAndWait'>,
  node: KeyText,
  timeout: number
): Promise<boolean> {
  let timer: NodeJS.Timeout | null = null
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`not final within ${timeout} ms`), timeout)
  })
  const withdraw = async (): Promise<string | null> => {
    const current = await client.offer(node)
    if (current === null || current.withdrawn) return null
    const [outcome] = await client.submitAndWait([{ type: 'withdraw', body: {} }], {
      final: true,
      timeout
    })
    return outcome.accepted ? null : `refused: ${outcome.reason ?? ''} ${outcome.message ?? ''}`
  }
  // caught here: whatever follows a lost race must not become an unhandled rejection
  const done = withdraw().catch((err) => (err as Error).message)
  const why = await Promise.race([done, late])
  if (timer !== null) clearTimeout(timer)
  if (why !== null) log.warn('the offer was not withdrawn: stopping anyway', { why })
  return why === null
}
