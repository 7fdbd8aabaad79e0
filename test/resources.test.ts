import test from 'brittle'
import { parseSize, parseCpu, resources, add, subtract, fits, scale, hourlyCost, costFor, formatSize, GiB, MiB, ZERO } from '../lib/resources'
import { isScitError, ErrorCode } from '../lib/errors'

function throwsCode (t: test.Assert, fn: () => unknown, code: ErrorCode, what: string): void {
  try {
    fn()
    t.fail(`${what}: no error`)
  } catch (err) {
    t.ok(isScitError(err, code), `${what}: ${code} (${(err as Error).message})`)
  }
}

test('human sizes parse to bytes', t => {
  t.is(parseSize('512MiB'), 512 * MiB)
  t.is(parseSize('8GiB'), 8 * GiB)
  t.is(parseSize('1.5TB'), 1.5e12)
  t.is(parseSize('100'), 100)
  t.is(parseSize('2 gb'), 2e9)
  t.is(parseSize(0), 0)
})

test('malformed sizes are refused with INVALID_SIZE', t => {
  for (const s of ['', 'GiB', '-1GiB', '1.2.3GB', '5 parsecs', '1e3', 'NaN']) throwsCode(t, () => parseSize(s), 'INVALID_SIZE', `"${s}"`)
  throwsCode(t, () => parseSize('99999999PiB'), 'INVALID_SIZE', 'overflowing size')
})

test('cpu parses cores and millicores', t => {
  t.is(parseCpu('2'), 2000)
  t.is(parseCpu('0.5'), 500)
  t.is(parseCpu('250m'), 250)
  throwsCode(t, () => parseCpu('-1'), 'INVALID_RESOURCE', 'negative cpu')
  throwsCode(t, () => parseCpu('0.0001'), 'INVALID_RESOURCE', 'sub-millicore cpu')
})

test('resource vectors refuse negative, fractional, overflowing and unknown values', t => {
  throwsCode(t, () => resources({ cpu: -1 }), 'INVALID_RESOURCE', 'negative')
  throwsCode(t, () => resources({ memory: 1.5 }), 'INVALID_RESOURCE', 'fractional')
  throwsCode(t, () => resources({ ssd: 2 ** 53 }), 'INVALID_RESOURCE', 'unsafe integer')
  throwsCode(t, () => resources({ cpu: Number.NaN }), 'INVALID_RESOURCE', 'NaN')
  throwsCode(t, () => resources({ disk: 1 } as never), 'INVALID_RESOURCE', 'unknown kind')
  t.alike(resources({ cpu: 1000 }), { ...ZERO, cpu: 1000 })
})

test('add, subtract, scale and fits', t => {
  const a = resources({ cpu: 4000, memory: 8 * GiB, ssd: 100 * GiB })
  const b = resources({ cpu: 1000, memory: 2 * GiB })
  t.alike(add(a, b), resources({ cpu: 5000, memory: 10 * GiB, ssd: 100 * GiB }))
  t.alike(subtract(a, b), resources({ cpu: 3000, memory: 6 * GiB, ssd: 100 * GiB }))
  t.alike(scale(b, 3), resources({ cpu: 3000, memory: 6 * GiB }))
  t.ok(fits(b, a))
  t.absent(fits(a, b))
  throwsCode(t, () => subtract(b, a), 'CAPACITY', 'subtract more than there is')
  throwsCode(t, () => add(resources({ cpu: Number.MAX_SAFE_INTEGER }), resources({ cpu: 1 })), 'OVERFLOW', 'add overflow')
  throwsCode(t, () => scale(resources({ hdd: 2 ** 52 }), 4), 'OVERFLOW', 'scale overflow')
})

test('hourly cost is integer, per unit, rounded up per kind', t => {
  const prices = resources({ cpu: 100, memory: 10, ssd: 1 })
  t.is(hourlyCost(resources({ cpu: 2000, memory: 4 * GiB }), prices), 240)
  t.is(hourlyCost(resources({ cpu: 500 }), prices), 50, 'half a core is half the price')
  t.is(hourlyCost(resources({ memory: 1 }), prices), 1, 'a byte of memory is not free')
  t.is(hourlyCost(ZERO, prices), 0)
  t.is(costFor(100, 3_600_000), 100)
  t.is(costFor(100, 1), 1, 'a part of an hour rounds up')
  t.is(costFor(100, 1_800_000), 50)
  throwsCode(t, () => hourlyCost(resources({ hdd: 2 ** 52 }), resources({ hdd: 2 ** 40 })), 'OVERFLOW', 'cost overflow')
})

test('sizes format for people', t => {
  t.is(formatSize(8 * GiB), '8GiB')
  t.is(formatSize(1536 * MiB), '1.5GiB')
  t.is(formatSize(0), '0')
})
