/**
 * Template expressions `${…}`: jsep parses, we evaluate the AST over a whitelist,
 * never `eval`. Numbers are exact BigInt rationals, so a non-whole value where a
 * whole one is needed is an error, not a float two bots might round differently.
 */
import jsep from 'jsep'

export interface Rational {
  n: bigint
  d: bigint
}
export type Value = Rational | string | boolean

/** An error inside one expression; `offset` is the character in the template string. */
export class ExpressionError extends Error {
  constructor(
    message: string,
    readonly offset: number
  ) {
    super(message)
  }
}

export interface Piece {
  source: string
  offset: number
  ast: jsep.Expression
}
export type Compiled = Array<string | Piece>

export const FUNCTIONS: Record<
  string,
  { arity: [number, number]; fn: (args: Rational[]) => Rational }
> = {
  ceil: { arity: [1, 1], fn: ([a]) => rat(ceilDiv(a.n, a.d)) },
  floor: { arity: [1, 1], fn: ([a]) => rat(floorDiv(a.n, a.d)) },
  round: { arity: [1, 1], fn: ([a]) => rat(floorDiv(2n * a.n + a.d, 2n * a.d)) }, // half up
  abs: { arity: [1, 1], fn: ([a]) => ({ n: a.n < 0n ? -a.n : a.n, d: a.d }) },
  min: { arity: [1, 32], fn: (args) => args.reduce((m, x) => (cmp(x, m) < 0 ? x : m)) },
  max: { arity: [1, 32], fn: (args) => args.reduce((m, x) => (cmp(x, m) > 0 ? x : m)) }
}

export function rat(n: bigint, d = 1n): Rational {
  if (d < 0n) {
    n = -n
    d = -d
  }
  const g = gcd(n < 0n ? -n : n, d)
  return g > 1n ? { n: n / g, d: d / g } : { n, d }
}

export function isRational(v: Value): v is Rational {
  return typeof v === 'object'
}

export function isInteger(v: Value): v is Rational {
  return isRational(v) && v.d === 1n
}

export function formatValue(v: Value): string {
  if (!isRational(v)) return String(v)
  return v.d === 1n ? v.n.toString() : `${v.n}/${v.d}`
}

/** Throws ExpressionError on bad syntax. */
export const MAX_EXPRESSION = 1000

export function compile(text: string): Compiled {
  const out: Compiled = []
  let i = 0
  while (i < text.length) {
    const open = text.indexOf('${', i)
    if (open === -1) {
      out.push(text.slice(i))
      break
    }
    if (open > i) out.push(text.slice(i, open))
    const close = findClose(text, open + 2)
    if (close === -1) throw new ExpressionError('"${" without a closing "}"', open)
    const source = text.slice(open + 2, close)
    if (source.trim() === '') throw new ExpressionError('empty expression "${}"', open)
    // jsep and the evaluator recurse: a bounded text bounds their depth
    if (source.length > MAX_EXPRESSION)
      throw new ExpressionError(
        `an expression is at most ${MAX_EXPRESSION} characters, this one ${source.length}`,
        open
      )
    let ast: jsep.Expression
    try {
      ast = jsep(source)
    } catch (err) {
      const e = err as Error & { index?: number }
      throw new ExpressionError(
        `syntax error in "${source}": ${e.message.replace(/ at character \d+$/, '')}`,
        open + 2 + (e.index ?? 0)
      )
    }
    out.push({ source, offset: open + 2, ast })
    i = close + 1
  }
  return out
}

/** Quotes may hold a "}", so the closing brace is searched outside of them. */
function findClose(text: string, from: number): number {
  let quote = ''
  for (let i = from; i < text.length; i++) {
    const ch = text[i]
    if (quote) {
      if (ch === '\\') i++
      else if (ch === quote) quote = ''
    } else if (ch === '"' || ch === "'") quote = ch
    else if (ch === '}') return i
  }
  return -1
}

export function hasExpressions(c: Compiled): boolean {
  return c.some((p) => typeof p !== 'string')
}

/** Check names without evaluating. */
export function check(c: Compiled, variables: ReadonlySet<string>): void {
  for (const p of c) if (typeof p !== 'string') walk(p.ast, p, variables)
}

function walk(node: jsep.Expression, p: Piece, vars: ReadonlySet<string>): void {
  switch (node.type) {
    case 'Literal':
      return
    case 'Identifier': {
      const name = (node as jsep.Identifier).name
      if (!vars.has(name))
        throw new ExpressionError(
          `unknown variable "${name}" in "${p.source}"${vars.size ? ` (parameters: ${[...vars].join(', ')})` : ' (the template declares no parameters)'}`,
          p.offset
        )
      return
    }
    case 'CallExpression': {
      const call = node as jsep.CallExpression
      const name = call.callee.type === 'Identifier' ? (call.callee as jsep.Identifier).name : ''
      const f = FUNCTIONS[name]
      if (!f)
        throw new ExpressionError(
          `unknown function "${name || call.callee.type}" in "${p.source}" (known: ${Object.keys(FUNCTIONS).join(', ')})`,
          p.offset
        )
      const [lo, hi] = f.arity
      if (call.arguments.length < lo || call.arguments.length > hi)
        throw new ExpressionError(
          `${name}() takes ${lo === hi ? lo : `${lo} to ${hi}`} argument(s), got ${call.arguments.length}`,
          p.offset
        )
      for (const a of call.arguments) walk(a, p, vars)
      return
    }
    case 'BinaryExpression': {
      const b = node as jsep.BinaryExpression
      if (!BINARY.has(b.operator))
        throw new ExpressionError(
          `operator "${b.operator}" is not allowed in "${p.source}"`,
          p.offset
        )
      walk(b.left, p, vars)
      walk(b.right, p, vars)
      return
    }
    case 'UnaryExpression': {
      const u = node as jsep.UnaryExpression
      if (!['-', '+', '!'].includes(u.operator))
        throw new ExpressionError(
          `operator "${u.operator}" is not allowed in "${p.source}"`,
          p.offset
        )
      walk(u.argument, p, vars)
      return
    }
    case 'ConditionalExpression': {
      const t = node as jsep.ConditionalExpression
      walk(t.test, p, vars)
      walk(t.consequent, p, vars)
      walk(t.alternate, p, vars)
      return
    }
    default:
      throw new ExpressionError(
        `${node.type} is not allowed in "${p.source}" (use parameters, numbers, strings, + - * / %, comparisons, && || !, ?: and ${Object.keys(FUNCTIONS).join('/')})`,
        p.offset
      )
  }
}

const BINARY = new Set([
  '+',
  '-',
  '*',
  '/',
  '%',
  '<',
  '<=',
  '>',
  '>=',
  '==',
  '!=',
  '===',
  '!==',
  '&&',
  '||'
])

/** A string that is exactly one `${…}` keeps its value's type; in text a number must be whole. */
export function evaluate(c: Compiled, scope: ReadonlyMap<string, Value>): Value {
  if (c.length === 1 && typeof c[0] !== 'string') return run(c[0].ast, c[0], scope)
  let out = ''
  for (const p of c) {
    if (typeof p === 'string') {
      out += p
      continue
    }
    const v = run(p.ast, p, scope)
    if (isRational(v) && v.d !== 1n)
      throw new ExpressionError(
        `"${p.source}" is ${formatValue(v)}, not a whole number: wrap it in ceil() or floor()`,
        p.offset
      )
    out += formatValue(v)
  }
  return out
}

function run(node: jsep.Expression, p: Piece, scope: ReadonlyMap<string, Value>): Value {
  const fail = (msg: string): never => {
    throw new ExpressionError(`${msg} in "${p.source}"`, p.offset)
  }
  const num = (v: Value, what: string): Rational =>
    isRational(v) ? v : fail(`${what} must be a number, got ${JSON.stringify(v)}`)
  const bool = (v: Value, what: string): boolean =>
    typeof v === 'boolean' ? v : fail(`${what} must be true or false, got ${formatValue(v)}`)
  switch (node.type) {
    case 'Literal': {
      const l = node as jsep.Literal
      if (typeof l.value === 'number')
        return decimal(l.raw) ?? fail(`${l.raw} is not a plain decimal number`)
      if (typeof l.value === 'string' || typeof l.value === 'boolean') return l.value
      return fail(`literal ${l.raw} is not allowed`)
    }
    case 'Identifier': {
      const name = (node as jsep.Identifier).name
      const v = scope.get(name)
      return v === undefined ? fail(`unknown variable "${name}"`) : v
    }
    case 'CallExpression': {
      const call = node as jsep.CallExpression
      const name = (call.callee as jsep.Identifier).name
      const f = FUNCTIONS[name] ?? fail(`unknown function "${name}"`)
      return f.fn(
        call.arguments.map((a, i) => num(run(a, p, scope), `argument ${i + 1} of ${name}()`))
      )
    }
    case 'UnaryExpression': {
      const u = node as jsep.UnaryExpression
      const v = run(u.argument, p, scope)
      if (u.operator === '!') return !bool(v, 'the operand of !')
      const r = num(v, `the operand of ${u.operator}`)
      return u.operator === '-' ? { n: -r.n, d: r.d } : r
    }
    case 'ConditionalExpression': {
      const t = node as jsep.ConditionalExpression
      return bool(run(t.test, p, scope), 'the condition of ?:')
        ? run(t.consequent, p, scope)
        : run(t.alternate, p, scope)
    }
    case 'BinaryExpression': {
      const b = node as jsep.BinaryExpression
      const op = b.operator
      if (op === '&&' || op === '||') {
        const l = bool(run(b.left, p, scope), `the left side of ${op}`)
        if (op === '&&' ? !l : l) return l
        return bool(run(b.right, p, scope), `the right side of ${op}`)
      }
      const l = run(b.left, p, scope)
      const r = run(b.right, p, scope)
      if (op === '==' || op === '===' || op === '!=' || op === '!==') {
        const same = isRational(l) && isRational(r) ? cmp(l, r) === 0 : l === r
        if (typeof l !== typeof r) fail(`cannot compare ${formatValue(l)} with ${formatValue(r)}`)
        return op.startsWith('=') ? same : !same
      }
      if (op === '+' && typeof l === 'string' && typeof r === 'string') return l + r
      const a = num(l, `the left side of ${op}`)
      const c = num(r, `the right side of ${op}`)
      switch (op) {
        case '+':
          return rat(a.n * c.d + c.n * a.d, a.d * c.d)
        case '-':
          return rat(a.n * c.d - c.n * a.d, a.d * c.d)
        case '*':
          return rat(a.n * c.n, a.d * c.d)
        case '/':
          if (c.n === 0n) fail('division by zero')
          return rat(a.n * c.d, a.d * c.n)
        case '%': {
          if (c.n === 0n) fail('division by zero')
          const q = floorDiv(a.n * c.d, a.d * c.n)
          return rat(a.n * c.d - q * c.n * a.d, a.d * c.d)
        }
        case '<':
          return cmp(a, c) < 0
        case '<=':
          return cmp(a, c) <= 0
        case '>':
          return cmp(a, c) > 0
        case '>=':
          return cmp(a, c) >= 0
      }
      return fail(`operator "${op}" is not allowed`)
    }
  }
  return fail(`${node.type} is not allowed`)
}

/** "1.25" → 5/4 exactly; jsep's float is only used to know it is a number. */
function decimal(raw: string): Rational | null {
  const m = /^(\d*)(?:\.(\d*))?$/.exec(raw)
  if (!m || (m[1] === '' && !m[2])) return null
  const frac = m[2] ?? ''
  return rat(BigInt((m[1] || '0') + frac), 10n ** BigInt(frac.length))
}

function cmp(a: Rational, b: Rational): number {
  const x = a.n * b.d
  const y = b.n * a.d
  return x < y ? -1 : x > y ? 1 : 0
}

function gcd(a: bigint, b: bigint): bigint {
  while (b) [a, b] = [b, a % b]
  return a || 1n
}

function floorDiv(n: bigint, d: bigint): bigint {
  const q = n / d
  return n % d !== 0n && n < 0n !== d < 0n ? q - 1n : q
}

function ceilDiv(n: bigint, d: bigint): bigint {
  return -floorDiv(-n, d)
}
