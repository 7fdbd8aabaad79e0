import test from 'brittle'
import {
  compile,
  check,
  evaluate,
  formatValue,
  rat,
  Value,
  ExpressionError
} from '../bot/expressions'

function ev(text: string, vars: Record<string, number | string | boolean> = {}): string {
  const scope = new Map<string, Value>(
    Object.entries(vars).map(([k, v]) => [k, typeof v === 'number' ? rat(BigInt(v)) : v])
  )
  const c = compile(text)
  check(c, new Set(scope.keys()))
  return formatValue(evaluate(c, scope))
}

test('arithmetic is exact: rationals, not floats', (t) => {
  t.is(ev('${users / 50}', { users: 120 }), '12/5')
  t.is(ev('${ceil(users / 50)}', { users: 120 }), '3')
  t.is(ev('${floor(users / 50)}', { users: 120 }), '2')
  t.is(ev('${0.1 + 0.2 == 0.3}'), 'true', 'no float rounding')
  t.is(ev('${round(5 / 2)} ${round(-5 / 2)}'), '3 -2', 'half up')
  t.is(ev('${-7 % 3}'), '2', 'modulo takes the sign of the divisor')
  t.is(ev('${min(3, users, 9)}-${max(1, 2)}', { users: 1 }), '1-2')
})

test('interpolation builds text; a lone expression keeps its type', (t) => {
  t.is(ev('${users * 8}MiB', { users: 4 }), '32MiB')
  t.is(ev('--country=${c}', { c: 'CH' }), '--country=CH')
  t.is(ev('${c == "CH" ? 2 : 1}', { c: 'CH' }), '2')
  t.is(ev('${big && users > 3}', { big: true, users: 4 }), 'true')
  t.is(ev('no expressions'), 'no expressions')
})

test('a fraction interpolated into text is an error', (t) => {
  t.exception(() => ev('${users / 3}MiB', { users: 10 }), /10\/3, not a whole number/)
})

test('refusals: unknown names, disallowed syntax, type errors, division by zero', (t) => {
  const bad: Array<[string, RegExp]> = [
    ['${x}', /unknown variable "x"/],
    ['${eval("1")}', /unknown function "eval"/],
    ['${a.b}', /MemberExpression is not allowed/],
    ['${[1, 2]}', /ArrayExpression is not allowed/],
    ['${1 / 0}', /division by zero/],
    ['${1 % 0}', /division by zero/],
    ['${"a" * 2}', /must be a number/],
    ['${1 ? 2 : 3}', /must be true or false/],
    ['${1 == "1"}', /cannot compare/],
    ['${1 +}', /syntax error/],
    ['${ceil(1, 2)}', /takes 1 argument/],
    ['${1 << 2}', /syntax error|not allowed/],
    ['${}', /empty expression/],
    ['${1', /without a closing/]
  ]
  for (const [text, re] of bad) {
    try {
      ev(text, {})
      t.fail(`${text} evaluated`)
    } catch (err) {
      t.ok(
        err instanceof ExpressionError && re.test(err.message),
        `${text}: ${(err as Error).message}`
      )
    }
  }
})
