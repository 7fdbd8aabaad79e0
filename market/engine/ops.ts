/**
 * Every market op, registered once: its body's encoding (messages.ts), the rules the
 * encoding cannot say, and its handler (docs/ARCHITECTURE.md "Adding a market op").
 */
import c from 'compact-encoding'
import { TYPES, type TypeName } from '../../lib/envelope'
import { decodeExact } from '../../lib/codec'
import { isZero } from '../../lib/resources'
import * as M from '../messages'
import { LIMITS } from '../messages'
import type { OfferBody, TradeRefBody, TemplateBody } from '../types'
import { isSafePath } from '../../lib/work-paths'
import { type Ctx, reject } from './context'
import { amount, resources, text, sortedUnique, unique, country, id, window } from './validate'
import { ATTRIBUTE } from './validate'
import { handleOffer, handleWithdraw, handleBid, handleCancel } from './book'
import { handleSettle, handleClaim, handleStop, handleDeposit, handleTransfer } from './money'
import { handleVote, handleTemplate } from './governance'

export interface OpEntry<B> {
  body: c.Encoding<B>
  /** Throws an `invalid` Reject for what the encoding lets through. */
  validate(body: B): void
  handle(ctx: Ctx, body: B): Promise<void>
}

function op<B>(
  body: c.Encoding<B>,
  validate: (body: B) => void,
  handle: (ctx: Ctx, body: B) => Promise<void>
): OpEntry<B> {
  return { body, validate, handle }
}

const TEMPLATE_NAME = /^[a-z0-9][a-z0-9._-]*$/

/** Its files land in a folder on the bots that deploy it: each name relative, inside, once (readers check more). */
function templateFiles(b: TemplateBody): void {
  const files = b.files ?? []
  let size = b.document.byteLength
  const paths = new Set<string>()
  for (const f of files) {
    if (!isSafePath(f.path) || paths.has(f.path))
      reject(
        'invalid',
        `template file "${f.path.slice(0, 80)}" is not a relative path inside its folder, or is listed twice`
      )
    paths.add(f.path)
    size += f.path.length + f.data.byteLength
  }
  if (size > LIMITS.template)
    reject('invalid', `template with its files is ${size} bytes, the limit is ${LIMITS.template}`)
}

export const OPS = {
  offer: op(M.offerBody, offerRules, (ctx, b) => handleOffer(ctx, b, false)),
  'offer-update': op(M.offerBody, offerRules, (ctx, b) => handleOffer(ctx, b, true)),
  withdraw: op(M.withdrawBody, () => {}, handleWithdraw),
  bid: op(
    M.bidBody,
    (b) => {
      resources('resources', b.resources)
      if (isZero(b.resources)) reject('invalid', 'a bid must ask for some resources')
      amount('replicas', b.replicas, 1)
      if (b.replicas > LIMITS.replicas)
        reject('invalid', `replicas is ${b.replicas}, the limit is ${LIMITS.replicas}`)
      b.countries.forEach((v, i) => country(`countries[${i}]`, v))
      unique('countries', b.countries)
      sortedUnique('attributes', b.attributes, ATTRIBUTE, LIMITS.attribute)
      amount('maxPrice', b.maxPrice)
      amount('duration', b.duration, 1)
      window('duration', b.duration)
      amount('expiry', b.expiry)
      unique('exclude', b.exclude)
    },
    handleBid
  ),
  cancel: op(M.cancelBody, (b) => id('bid', b.bid), handleCancel),
  settle: op(
    M.settleBody,
    (b) => {
      id('trade', b.trade)
      if (b.manifest.byteLength === 0 || b.manifest.byteLength > LIMITS.manifest)
        reject('invalid', `manifest hash must be 1 to ${LIMITS.manifest} bytes`)
    },
    handleSettle
  ),
  close: op(M.tradeRefBody, tradeRef, (ctx, b) => handleStop(ctx, b, 'closed')),
  fail: op(M.tradeRefBody, tradeRef, (ctx, b) => handleStop(ctx, b, 'failed')),
  claim: op(M.tradeRefBody, tradeRef, handleClaim),
  deposit: op(M.depositBody, (b) => amount('amount', b.amount, 1), handleDeposit),
  transfer: op(M.transferBody, (b) => amount('amount', b.amount, 1), handleTransfer),
  template: op(
    M.templateBody,
    (b) => {
      if (b.name.length === 0 || b.name.length > LIMITS.templateName || !TEMPLATE_NAME.test(b.name))
        reject(
          'invalid',
          `template name must match ${TEMPLATE_NAME.source}, 1 to ${LIMITS.templateName} characters`
        )
      amount('version', b.version, 1)
      templateFiles(b)
    },
    handleTemplate
  ),
  governance: op(
    M.governanceBody,
    (b) => {
      if (b.action !== 'genesis') return
      amount('settlementWindow', b.settlementWindow, 1)
      window('settlementWindow', b.settlementWindow)
      window('offerTtl', b.offerTtl ?? 0)
    },
    handleVote
  )
} satisfies Partial<Record<TypeName, unknown>>

function offerRules(b: OfferBody): void {
  resources('resources', b.resources)
  resources('prices', b.prices)
  country('country', b.country)
  text('city', b.city, LIMITS.city)
  sortedUnique('attributes', b.attributes, ATTRIBUTE, LIMITS.attribute)
  amount('minLease', b.minLease)
  amount('maxLease', b.maxLease, 1)
  if (b.minLease > b.maxLease)
    reject('invalid', `minLease ${b.minLease} is above maxLease ${b.maxLease}`)
}

function tradeRef(b: TradeRefBody): void {
  id('trade', b.trade)
  text('reason', b.reason, LIMITS.reason)
}

export type MarketOp = keyof typeof OPS
export type Bodies = { [K in MarketOp]: (typeof OPS)[K] extends OpEntry<infer B> ? B : never }

/** Every market op's envelope type. */
export const MARKET_TYPES: ReadonlySet<number> = new Set(
  (Object.keys(OPS) as MarketOp[]).map((t) => TYPES[t])
)

export function isMarketOp(name: string): name is MarketOp {
  return Object.prototype.hasOwnProperty.call(OPS, name)
}

export function opEntry<K extends MarketOp>(type: K): OpEntry<Bodies[K]> {
  return OPS[type] as unknown as OpEntry<Bodies[K]>
}

export function encodeBody<K extends MarketOp>(type: K, body: Bodies[K]): Buffer {
  return c.encode(opEntry(type).body, body)
}

/** Strict (no trailing bytes); throws a plain Error on malformed bytes. */
export function decodeBody<K extends MarketOp>(type: K, buf: Uint8Array): Bodies[K] {
  return decodeExact(opEntry(type).body, buf)
}
