/** Rules the encoding cannot express; each failure is an `invalid` rejection telling the author what to fix. */
import { RESOURCE_KINDS, Resources, isZero } from '../../lib/resources'
import { LIMITS, Bodies, MarketOp } from '../messages'
import { reject } from './context'

const ATTRIBUTE = /^[a-z0-9][a-z0-9._-]*$/
const COUNTRY = /^[A-Z]{2}$/
const TEMPLATE_NAME = /^[a-z0-9][a-z0-9._-]*$/

function amount(what: string, v: number, min = 0): void {
  if (!Number.isSafeInteger(v) || v < min)
    reject('invalid', `${what} must be a whole number ≥ ${min} below 2^53, got ${v}`)
}

function resources(what: string, r: Resources): void {
  for (const k of RESOURCE_KINDS) amount(`${what}.${k}`, r[k])
}

function text(what: string, v: string, max: number): void {
  if (v.length > max) reject('invalid', `${what} is ${v.length} characters, the limit is ${max}`)
}

function sortedUnique(what: string, list: string[], re: RegExp, max: number): void {
  for (let i = 0; i < list.length; i++) {
    const v = list[i]
    if (v.length > max || !re.test(v))
      reject(
        'invalid',
        `${what} "${v.slice(0, 40)}" must match ${re.source} and be at most ${max} characters`
      )
    if (i > 0 && !(list[i - 1] < v))
      reject('invalid', `${what} must be sorted and unique ("${list[i - 1]}" then "${v}")`)
  }
}

function unique(what: string, list: string[]): void {
  if (new Set(list).size !== list.length) reject('invalid', `${what} lists a value twice`)
}

function country(what: string, v: string): void {
  if (!COUNTRY.test(v))
    reject(
      'invalid',
      `${what} must be an upper-case ISO 3166 alpha-2 code like "CH", got "${v.slice(0, 8)}"`
    )
}

function id(what: string, v: string): void {
  if (v.length === 0 || v.length > LIMITS.id)
    reject('invalid', `${what} must be an id of 1 to ${LIMITS.id} characters`)
}

type Validators = { [K in MarketOp]: (b: Bodies[K]) => void }

const VALIDATE: Validators = {
  offer: offerRules,
  'offer-update': offerRules,
  withdraw() {},
  bid(b) {
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
    if (b.duration > LIMITS.window) reject('invalid', `duration is above ${LIMITS.window} ms`)
    amount('expiry', b.expiry)
    unique('exclude', b.exclude)
  },
  cancel(b) {
    id('bid', b.bid)
  },
  settle(b) {
    id('trade', b.trade)
    if (b.manifest.byteLength === 0 || b.manifest.byteLength > LIMITS.manifest)
      reject('invalid', `manifest hash must be 1 to ${LIMITS.manifest} bytes`)
  },
  close: tradeRef,
  fail: tradeRef,
  claim: tradeRef,
  deposit(b) {
    amount('amount', b.amount, 1)
  },
  transfer(b) {
    amount('amount', b.amount, 1)
  },
  template(b) {
    if (b.name.length === 0 || b.name.length > LIMITS.templateName || !TEMPLATE_NAME.test(b.name)) {
      reject(
        'invalid',
        `template name must match ${TEMPLATE_NAME.source}, 1 to ${LIMITS.templateName} characters`
      )
    }
    amount('version', b.version, 1)
    if (b.document.byteLength > LIMITS.template)
      reject(
        'invalid',
        `template document is ${b.document.byteLength} bytes, the limit is ${LIMITS.template}`
      )
  },
  governance(b) {
    if (b.action === 'genesis') {
      amount('settlementWindow', b.settlementWindow, 1)
      if (b.settlementWindow > LIMITS.window)
        reject('invalid', `settlementWindow is above ${LIMITS.window} ms`)
      if ((b.offerTtl ?? 0) > LIMITS.window)
        reject('invalid', `offerTtl is above ${LIMITS.window} ms`)
    }
  }
}

function offerRules(b: Bodies['offer']): void {
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

function tradeRef(b: Bodies['close']): void {
  id('trade', b.trade)
  text('reason', b.reason, LIMITS.reason)
}

export function validateBody<K extends MarketOp>(type: K, body: Bodies[K]): void {
  ;(VALIDATE[type] as (b: Bodies[K]) => void)(body)
}
