import test from 'brittle'
import {
  parseSize,
  parseCpu,
  resources,
  add,
  subtract,
  fits,
  scale,
  hourlyCost,
  costFor,
  formatSize,
  GiB,
  MiB,
  ZERO
} from '../lib/resources'
import { isScitError, ErrorCode } from '../lib/errors'

function throwsCode(t: test.Assert, fn: () => unknown, code: ErrorCode, what: string): void {
  try {
    fn()
    t.fail(`${what}: no error`)
  } catch (err) {
    t.ok(isScitError(err, code), `${what}: ${code} (${(err as Error).message})`)
  }
}

test('human sizes parse to bytes', (t) => {
  t.is(parseSize('512MiB'), 512 * MiB)
  t.is(parseSize('8GiB'), 8 * GiB)
  t.is(parseSize('1.5TB'), 1.5e12)
  t.is(parseSize('100'), 100)
  t.is(parseSize('2 gb'), 2e9)
  t.is(parseSize(0), 0)
})

test('malformed sizes are refused with INVALID_SIZE', (t) => {
  for (const s of ['', 'GiB', '-1GiB', '1.2.3GB', '5 parsecs', '1e3', 'NaN'])
    throwsCode(t, () => parseSize(s), 'INVALID_SIZE', `"${s}"`)
  throwsCode(t, () => parseSize('99999999PiB'), 'INVALID_SIZE', 'overflowing size')
})

test('decimal sizes are exact: no float rounding, a fraction of a byte rounds down', (t) => {
  t.is(parseSize('2.01TB'), 2_010_000_000_000)
  t.is(parseSize('1.005GB'), 1_005_000_000)
  t.is(parseSize('0.1KiB'), 102, '102.4 bytes: down to whole bytes')
  t.is(parseSize('0.9999999999999999999KB'), 999, 'a float would read 1.0 and give 1000')
  t.is(parseSize('1.10GiB'), parseSize('1.1GiB'), 'trailing zeros change nothing')
  t.is(parseSize('007MiB'), 7 * MiB)
  t.is(parseSize('9007199254740991'), Number.MAX_SAFE_INTEGER, 'the largest size')
  t.is(
    parseSize('7.99999999999999911182158029987476766109466552734375PiB'),
    Number.MAX_SAFE_INTEGER,
    'the largest size, in PiB'
  )
  throwsCode(t, () => parseSize('9007199254740992'), 'INVALID_SIZE', 'one past the largest')
  throwsCode(t, () => parseSize('8PiB'), 'INVALID_SIZE', '2^53 bytes')
  for (const s of [
    '1e9',
    '1E3GB',
    '1.5e3MB',
    '-0.5GB',
    '+1GB',
    '.5GB',
    '5.GB',
    '0x10',
    '1,5GB',
    `1.${'0'.repeat(80)}GB`
  ]) {
    throwsCode(t, () => parseSize(s), 'INVALID_SIZE', `"${s.slice(0, 20)}" refused`)
  }
})

test('cpu parses cores and millicores', (t) => {
  t.is(parseCpu('2'), 2000)
  t.is(parseCpu('0.5'), 500)
  t.is(parseCpu('250m'), 250)
  throwsCode(t, () => parseCpu('-1'), 'INVALID_RESOURCE', 'negative cpu')
  throwsCode(t, () => parseCpu('0.0001'), 'INVALID_RESOURCE', 'sub-millicore cpu')
})

test('decimal cpu amounts are exact: 1.005 cores is 1005 millicores', (t) => {
  t.is(parseCpu('1.005'), 1005, 'a float would make it 1004.999…')
  t.is(parseCpu('0.001'), 1)
  t.is(parseCpu('2.500'), 2500, 'trailing zeros are not finer than a millicore')
  t.is(parseCpu('1.0010'), 1001)
  t.is(parseCpu(0.5), 500, 'a number is read as the decimal it prints as')
  t.is(parseCpu('9007199254740991m'), Number.MAX_SAFE_INTEGER)
  t.is(parseCpu('9007199254740.991'), Number.MAX_SAFE_INTEGER, 'the largest amount, in cores')
  throwsCode(
    t,
    () => parseCpu('9007199254740.992'),
    'INVALID_RESOURCE',
    'one millicore past the largest'
  )
  throwsCode(
    t,
    () => parseCpu('9007199254740992m'),
    'INVALID_RESOURCE',
    'one past the largest, in millicores'
  )
  throwsCode(t, () => parseCpu('1.0005'), 'INVALID_RESOURCE', 'too many decimals')
  throwsCode(t, () => parseCpu('0.5m'), 'INVALID_RESOURCE', 'a fraction of a millicore')
  for (const s of [
    '1e3',
    '1E-3',
    '-0.5',
    '-250m',
    '+1',
    '.5',
    '2.',
    'Infinity',
    'NaN',
    '1 m',
    `0.${'0'.repeat(80)}1`
  ]) {
    throwsCode(t, () => parseCpu(s), 'INVALID_RESOURCE', `"${s.slice(0, 20)}" refused`)
  }
  throwsCode(t, () => parseCpu(1e21), 'INVALID_RESOURCE', 'a number printed with an exponent')
  throwsCode(t, () => parseCpu(-1), 'INVALID_RESOURCE', 'a negative number')
})

test('resource vectors refuse negative, fractional, overflowing and unknown values', (t) => {
  throwsCode(t, () => resources({ cpu: -1 }), 'INVALID_RESOURCE', 'negative')
  throwsCode(t, () => resources({ memory: 1.5 }), 'INVALID_RESOURCE', 'fractional')
  throwsCode(t, () => resources({ ssd: 2 ** 53 }), 'INVALID_RESOURCE', 'unsafe integer')
  throwsCode(t, () => resources({ cpu: Number.NaN }), 'INVALID_RESOURCE', 'NaN')
  throwsCode(t, () => resources({ disk: 1 } as never), 'INVALID_RESOURCE', 'unknown kind')
  t.alike(resources({ cpu: 1000 }), { ...ZERO, cpu: 1000 })
})

test('add, subtract, scale and fits', (t) => {
  const a = resources({ cpu: 4000, memory: 8 * GiB, ssd: 100 * GiB })
  const b = resources({ cpu: 1000, memory: 2 * GiB })
  t.alike(add(a, b), resources({ cpu: 5000, memory: 10 * GiB, ssd: 100 * GiB }))
  t.alike(subtract(a, b), resources({ cpu: 3000, memory: 6 * GiB, ssd: 100 * GiB }))
  t.alike(scale(b, 3), resources({ cpu: 3000, memory: 6 * GiB }))
  t.ok(fits(b, a))
  t.absent(fits(a, b))
  throwsCode(t, () => subtract(b, a), 'CAPACITY', 'subtract more than there is')
  throwsCode(
    t,
    () => add(resources({ cpu: Number.MAX_SAFE_INTEGER }), resources({ cpu: 1 })),
    'OVERFLOW',
    'add overflow'
  )
  throwsCode(t, () => scale(resources({ hdd: 2 ** 52 }), 4), 'OVERFLOW', 'scale overflow')
})

test('hourly cost is integer, per unit, rounded up per kind', (t) => {
  const prices = resources({ cpu: 100, memory: 10, ssd: 1 })
  t.is(hourlyCost(resources({ cpu: 2000, memory: 4 * GiB }), prices), 240)
  t.is(hourlyCost(resources({ cpu: 500 }), prices), 50, 'half a core is half the price')
  t.is(hourlyCost(resources({ memory: 1 }), prices), 1, 'a byte of memory is not free')
  t.is(hourlyCost(ZERO, prices), 0)
  t.is(costFor(100, 3_600_000), 100)
  t.is(costFor(100, 1), 1, 'a part of an hour rounds up')
  t.is(costFor(100, 1_800_000), 50)
  throwsCode(
    t,
    () => hourlyCost(resources({ hdd: 2 ** 52 }), resources({ hdd: 2 ** 40 })),
    'OVERFLOW',
    'cost overflow'
  )
})

test('sizes format for people', (t) => {
  t.is(formatSize(8 * GiB), '8GiB')
  t.is(formatSize(1536 * MiB), '1.5GiB')
  t.is(formatSize(0), '0')
})
