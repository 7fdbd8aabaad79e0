/** The explorer's filters, checked once: a bad flag is an INVALID_ARGUMENT naming it, before any network use. */
import { isCountry } from '../../lib/countries'
import { parseCpu, parseSize, hourlyCost, ZERO, Resources } from '../../lib/resources'
import { decodeKey, encodeKey } from '../../lib/keys'
import { ScitError } from '../../lib/errors'
import { HEADLINE } from '../engine/keys'
import type { KeyText } from '../types'

export interface FilterFlags {
  country?: string
  minCpu?: string
  minMemory?: string
  minSsd?: string
  attr?: string[]
  attribute?: string[]
  maxPrice?: string
  state?: string
  node?: string
  bot?: string
  bid?: string
  online?: boolean
  all?: boolean
}

/** A whole key, or a z-base-32 prefix (what the tables show). */
export interface KeyMatch {
  key: KeyText | null
  prefix: string
}

export interface Filter {
  country?: string
  /** The least free capacity a node or offer must have (only the kinds asked). */
  min?: Partial<Resources>
  attributes?: string[]
  maxPrice?: number
  state?: string
  node?: KeyMatch
  bot?: KeyMatch
  bid?: string
  online?: boolean
  all?: boolean
}

const Z32 = /^[ybndrfg8ejkmcpqxot1uwisza345h769]+$/

export function invalid(flag: string, message: string): ScitError {
  return new ScitError('INVALID_ARGUMENT', `${flag}: ${message}`)
}

/** `--node`/`--bot`/`contract ID`: a whole key (z32 or hex), or at least 4 characters of its z32 form. */
export function parseKeyMatch(text: string, flag: string): KeyMatch {
  if (text.length === 52 || text.length === 64) {
    try {
      return { key: encodeKey(decodeKey(text)), prefix: '' }
    } catch (err) {
      throw invalid(flag, (err as Error).message)
    }
  }
  if (text.length < 4 || text.length > 52 || !Z32.test(text))
    throw invalid(
      flag,
      `"${text}" is neither a key (52 z-base-32 or 64 hex characters) nor the first 4 or more characters of one`
    )
  return { key: null, prefix: text }
}

export function keyMatches(m: KeyMatch | undefined, key: KeyText | null): boolean {
  if (m === undefined) return true
  if (key === null) return false
  return m.key !== null ? key === m.key : key.startsWith(m.prefix)
}

function wrap<T>(flag: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof ScitError && err.code !== 'INVALID_ARGUMENT')
      throw invalid(flag, err.message)
    throw err
  }
}

function whole(text: string, flag: string): number {
  if (!/^\d+$/.test(text.trim()))
    throw invalid(
      flag,
      `"${text}" is not a whole number (prices are integers in the market's smallest unit)`
    )
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw invalid(flag, `${text} is out of range`)
  return n
}

/** `states`: what --state may be for this command. */
export function parseFilter(flags: FilterFlags, states: readonly string[] = []): Filter {
  const f: Filter = {}
  if (flags.country !== undefined) {
    if (!isCountry(flags.country.toUpperCase()))
      throw invalid('--country', `"${flags.country}" is not an ISO 3166 alpha-2 code (e.g. CH)`)
    f.country = flags.country.toUpperCase()
  }
  const min: Partial<Resources> = {}
  if (flags.minCpu !== undefined)
    min.cpu = wrap('--min-cpu', () => parseCpu(flags.minCpu as string))
  if (flags.minMemory !== undefined)
    min.memory = wrap('--min-memory', () => parseSize(flags.minMemory as string))
  if (flags.minSsd !== undefined)
    min.ssd = wrap('--min-ssd', () => parseSize(flags.minSsd as string))
  if (Object.keys(min).length > 0) f.min = min
  const attrs = [...(flags.attr ?? []), ...(flags.attribute ?? [])]
    .flatMap((a) => a.split(','))
    .map((a) => a.trim())
    .filter(Boolean)
  for (const a of attrs)
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(a))
      throw invalid('--attr', `"${a}" is not an attribute name`)
  if (attrs.length > 0) f.attributes = [...new Set(attrs)]
  if (flags.maxPrice !== undefined) f.maxPrice = whole(flags.maxPrice, '--max-price')
  if (flags.state !== undefined) {
    if (!states.includes(flags.state))
      throw invalid('--state', `"${flags.state}" is not one of ${states.join(', ')}`)
    f.state = flags.state
  }
  if (flags.node !== undefined) f.node = parseKeyMatch(flags.node, '--node')
  if (flags.bot !== undefined) f.bot = parseKeyMatch(flags.bot, '--bot')
  if (flags.bid !== undefined) {
    if (!/^[a-z0-9-]+$/i.test(flags.bid)) throw invalid('--bid', `"${flags.bid}" is not a bid id`)
    f.bid = flags.bid
  }
  if (flags.online === true) f.online = true
  if (flags.all === true) f.all = true
  return f
}

/** What `--max-price` prices: the --min-* shape, else the headline one (one core, 1 GiB). */
export function pricedShape(f: Filter): Resources {
  if (f.min === undefined) return { ...HEADLINE }
  return { ...ZERO, ...f.min }
}

/** Infinity when it overflows: nobody can pay it. */
export function costOf(shape: Resources, prices: Resources): number {
  try {
    return hourlyCost(shape, prices)
  } catch {
    return Infinity
  }
}
