/**
 * Resources and prices: every amount is a non-negative safe integer (cpu in
 * millicores, sizes in bytes) and money is integer: nothing signed or settled is a float.
 */
import { ScitError } from './errors'

export interface Resources {
  cpu: number // millicores: 1000 = one core
  memory: number // bytes
  ssd: number // bytes
  hdd: number // bytes
  ipv4: number // public IPv4 addresses
  gpu: number // whole GPUs
}

export const RESOURCE_KINDS = ['cpu', 'memory', 'ssd', 'hdd', 'ipv4', 'gpu'] as const
export type ResourceKind = (typeof RESOURCE_KINDS)[number]

export const ZERO: Readonly<Resources> = Object.freeze({
  cpu: 0,
  memory: 0,
  ssd: 0,
  hdd: 0,
  ipv4: 0,
  gpu: 0
})

export const KiB = 1024
export const MiB = 1024 * KiB
export const GiB = 1024 * MiB
export const TiB = 1024 * GiB

const UNITS: Record<string, bigint> = {
  '': 1n,
  b: 1n,
  k: 10n ** 3n,
  kb: 10n ** 3n,
  m: 10n ** 6n,
  mb: 10n ** 6n,
  g: 10n ** 9n,
  gb: 10n ** 9n,
  t: 10n ** 12n,
  tb: 10n ** 12n,
  p: 10n ** 15n,
  pb: 10n ** 15n,
  kib: 1n << 10n,
  mib: 1n << 20n,
  gib: 1n << 30n,
  tib: 1n << 40n,
  pib: 1n << 50n
}

/** No sign, exponent or hex: what people type. */
const DECIMAL = '(\\d+)(?:\\.(\\d+))?'
const SIZE = new RegExp(`^\\s*${DECIMAL}\\s*([a-z]*)\\s*$`, 'i')
const CPU = new RegExp(`^\\s*${DECIMAL}(m?)\\s*$`)
const MAX = BigInt(Number.MAX_SAFE_INTEGER)
/** No amount needs more: a longer text is refused before any arithmetic on it. */
const MAX_TEXT = 64

/** `whole.frac × unit` as an exact fraction: decimals never pass through a float (`2.01TB` is not one byte short). */
function scaled(
  whole: string,
  frac: string | undefined,
  unit: bigint
): { num: bigint; den: bigint } {
  const f = frac ?? ''
  return { num: BigInt(whole + f) * unit, den: 10n ** BigInt(f.length) }
}

/** Parse a human size: `512MiB`, `8GiB`, `1.5TB`, `100` (bytes). Exact; a fraction of a byte is rounded down. */
export function parseSize(text: string | number): number {
  if (typeof text === 'number') return checkAmount('size', text)
  const m = text.length <= MAX_TEXT ? SIZE.exec(text) : null
  const unit = m ? UNITS[m[3].toLowerCase()] : undefined
  if (!m || unit === undefined) {
    throw new ScitError(
      'INVALID_SIZE',
      `"${text}" is not a size: use a number with an optional unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 512MiB or 1.5TB`
    )
  }
  const { num, den } = scaled(m[1], m[2], unit)
  const bytes = num / den
  if (bytes > MAX)
    throw new ScitError(
      'INVALID_SIZE',
      `"${text}" is too large (at most ${Number.MAX_SAFE_INTEGER} bytes)`
    )
  return Number(bytes)
}

/** Parse a cpu amount: `2` cores, `0.5` cores, or `500m` millicores. Exact; finer than a millicore is refused. */
export function parseCpu(text: string | number): number {
  // A number is read as the decimal JavaScript prints for it (0.5 → "0.5"); one it prints with an exponent is refused.
  const s = typeof text === 'number' ? String(text) : text
  const m = s.length <= MAX_TEXT ? CPU.exec(s) : null
  if (!m)
    throw new ScitError(
      'INVALID_RESOURCE',
      `"${s}" is not a cpu amount: use cores (2, 0.5) or millicores (500m)`
    )
  const { num, den } = scaled(m[1], m[2], m[3] === 'm' ? 1n : 1000n)
  if (num % den !== 0n)
    throw new ScitError('INVALID_RESOURCE', `"${s}" is finer than one millicore`)
  const milli = num / den
  if (milli > MAX)
    throw new ScitError(
      'INVALID_RESOURCE',
      `"${s}" is too large (at most ${Number.MAX_SAFE_INTEGER} millicores)`
    )
  return Number(milli)
}

/** Rounded down to a tenth of the largest binary unit: never shows more than there is. */
export function formatSize(bytes: number): string {
  if (bytes === 0) return '0'
  const units: Array<[string, number]> = [
    ['PiB', 1024 * TiB],
    ['TiB', TiB],
    ['GiB', GiB],
    ['MiB', MiB],
    ['KiB', KiB]
  ]
  for (const [u, n] of units) {
    if (bytes >= n) {
      const v = Math.floor((bytes / n) * 10) / 10
      return `${Number.isInteger(v) ? v : v.toFixed(1)}${u}`
    }
  }
  return `${bytes}B`
}

export function formatCpu(milli: number): string {
  return milli % 1000 === 0
    ? String(milli / 1000)
    : (milli / 1000).toFixed(milli % 100 === 0 ? 1 : 3)
}

function checkAmount(what: string, v: number): number {
  if (!Number.isSafeInteger(v))
    throw new ScitError('INVALID_RESOURCE', `${what} must be a whole number, got ${v}`)
  if (v < 0) throw new ScitError('INVALID_RESOURCE', `${what} must not be negative, got ${v}`)
  return v
}

/** Validate an untrusted resource vector: every kind present, each a non-negative safe integer. */
export function resources(input: Partial<Record<ResourceKind, number>>): Resources {
  const out = { ...ZERO }
  for (const k of Object.keys(input)) {
    if (!(RESOURCE_KINDS as readonly string[]).includes(k))
      throw new ScitError(
        'INVALID_RESOURCE',
        `unknown resource "${k}" (known: ${RESOURCE_KINDS.join(', ')})`
      )
  }
  for (const k of RESOURCE_KINDS) out[k] = checkAmount(k, input[k] ?? 0)
  return out
}

export function add(a: Resources, b: Resources): Resources {
  const out = { ...ZERO }
  for (const k of RESOURCE_KINDS) {
    out[k] = a[k] + b[k]
    if (!Number.isSafeInteger(out[k])) throw new ScitError('OVERFLOW', `${k} overflows`)
  }
  return out
}

/** a - b; throws CAPACITY when b does not fit in a (use `fits` first to ask). */
export function subtract(a: Resources, b: Resources): Resources {
  const out = { ...ZERO }
  for (const k of RESOURCE_KINDS) {
    out[k] = a[k] - b[k]
    if (out[k] < 0) throw new ScitError('CAPACITY', `${k}: ${b[k]} does not fit in ${a[k]}`)
  }
  return out
}

export function scale(a: Resources, n: number): Resources {
  const out = { ...ZERO }
  for (const k of RESOURCE_KINDS) {
    out[k] = a[k] * n
    if (!Number.isSafeInteger(out[k])) throw new ScitError('OVERFLOW', `${k} × ${n} overflows`)
  }
  return out
}

export function fits(need: Resources, available: Resources): boolean {
  for (const k of RESOURCE_KINDS) if (need[k] > available[k]) return false
  return true
}

export function isZero(a: Resources): boolean {
  for (const k of RESOURCE_KINDS) if (a[k] !== 0) return false
  return true
}

export function formatResources(r: Resources): string {
  const parts = [`cpu ${formatCpu(r.cpu)}`, `mem ${formatSize(r.memory)}`]
  if (r.ssd) parts.push(`ssd ${formatSize(r.ssd)}`)
  if (r.hdd) parts.push(`hdd ${formatSize(r.hdd)}`)
  if (r.ipv4) parts.push(`ipv4 ${r.ipv4}`)
  if (r.gpu) parts.push(`gpu ${r.gpu}`)
  return parts.join(', ')
}

/** Per resource-hour in the smallest currency unit: cpu per core, memory/ssd/hdd per GiB, ipv4 per address, gpu per GPU. */
export type Prices = Resources

export const PRICE_UNIT: Readonly<Resources> = Object.freeze({
  cpu: 1000,
  memory: GiB,
  ssd: GiB,
  hdd: GiB,
  ipv4: 1,
  gpu: 1
})

/** Each kind rounded up separately in BigInt, so a fraction of a unit is never free. */
export function hourlyCost(amount: Resources, prices: Prices): number {
  let total = 0n
  for (const k of RESOURCE_KINDS) {
    const unit = BigInt(PRICE_UNIT[k])
    total += (BigInt(amount[k]) * BigInt(prices[k]) + unit - 1n) / unit
  }
  return toSafe(total, 'hourly cost')
}

/** cost for `ms` milliseconds at `perHour`, rounded up to the smallest unit. */
export function costFor(perHour: number, ms: number): number {
  return toSafe((BigInt(perHour) * BigInt(ms) + 3_599_999n) / 3_600_000n, 'cost')
}

export function toSafe(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < 0n)
    throw new ScitError('OVERFLOW', `${what} is out of range`)
  return Number(v)
}
