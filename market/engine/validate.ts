/** The words op rules are written in (ops.ts); each failure is an `invalid` rejection telling the author what to fix. */
import { RESOURCE_KINDS, Resources } from '../../lib/resources'
import { LIMITS } from '../messages'
import { reject } from './context'

export const ATTRIBUTE = /^[a-z0-9][a-z0-9._-]*$/
const COUNTRY = /^[A-Z]{2}$/

export function amount(what: string, v: number, min = 0): void {
  if (!Number.isSafeInteger(v) || v < min)
    reject('invalid', `${what} must be a whole number ≥ ${min} below 2^53, got ${v}`)
}

export function resources(what: string, r: Resources): void {
  for (const k of RESOURCE_KINDS) amount(`${what}.${k}`, r[k])
}

export function text(what: string, v: string, max: number): void {
  if (v.length > max) reject('invalid', `${what} is ${v.length} characters, the limit is ${max}`)
}

export function sortedUnique(what: string, list: string[], re: RegExp, max: number): void {
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

export function unique(what: string, list: string[]): void {
  if (new Set(list).size !== list.length) reject('invalid', `${what} lists a value twice`)
}

export function country(what: string, v: string): void {
  if (!COUNTRY.test(v))
    reject(
      'invalid',
      `${what} must be an upper-case ISO 3166 alpha-2 code like "CH", got "${v.slice(0, 8)}"`
    )
}

export function id(what: string, v: string): void {
  if (v.length === 0 || v.length > LIMITS.id)
    reject('invalid', `${what} must be an id of 1 to ${LIMITS.id} characters`)
}

/** A window of time (a lease, a settlement window), so that time sums stay below 2^53. */
export function window(what: string, v: number): void {
  if (v > LIMITS.window) reject('invalid', `${what} is above ${LIMITS.window} ms`)
}
