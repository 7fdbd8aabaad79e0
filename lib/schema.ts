/**
 * JSON Schema checks (ajv) of what scit reads from people and from disk, and
 * the mapping of ajv's errors to a path and a sentence for each problem.
 */
import Ajv, { ErrorObject, ValidateFunction } from 'ajv'
import { ScitError } from './errors'
import { readDataFile } from './datadir'

export interface SchemaProblem {
  path: Array<string | number>
  message: string
  key?: boolean
}

export function compileSchema(schema: object): ValidateFunction {
  return new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema)
}

/** Each problem `validate` finds in `doc`, named by the path of the offending value (or key). */
export function problemsOf(
  validate: ValidateFunction,
  doc: unknown,
  whole = 'the template'
): SchemaProblem[] {
  if (validate(doc)) return []
  const seen = new Set<string>()
  const out: SchemaProblem[] = []
  for (const e of validate.errors ?? []) {
    const p = describe(e, whole)
    // ajv reports a union type once per branch: keep one line per place and message
    const k = JSON.stringify(p)
    if (!seen.has(k)) {
      seen.add(k)
      out.push(p)
    }
  }
  return out
}

function describe(e: ErrorObject, whole: string): SchemaProblem {
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')))
  const at = formatPath(path)
  const params = e.params as Record<string, unknown>
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty)
      return {
        path: [...path, key],
        key: true,
        message: `unknown field "${key}"${at ? ` in ${at}` : ''}`
      }
    }
    case 'required':
      return {
        path,
        message: `${at ? at + ': ' : ''}missing field "${String(params.missingProperty)}"`
      }
    case 'enum':
      return {
        path,
        message: `${at} must be one of ${(params.allowedValues as unknown[]).join(', ')}`
      }
    case 'type':
      return {
        path,
        message: `${at || whole} must be ${String(params.type)
          .split(',')
          .map((t) =>
            t === 'integer' ? 'a whole number' : `${/^[aeio]/.test(t) ? 'an' : 'a'} ${t}`
          )
          .join(' or ')}`
      }
    case 'const':
      return { path, message: `${at || whole} must be ${JSON.stringify(params.allowedValue)}` }
    case 'pattern':
      return { path, message: `${at} must match ${String(params.pattern)}` }
    case 'propertyNames':
      return { path, message: `${at}: "${String(params.propertyName)}" is not a valid name` }
    default:
      return { path, message: `${at || whole} ${e.message ?? 'is invalid'}` }
  }
}

/** ["workloads", 0, "kind"] → "workloads[0].kind" */
export function formatPath(path: ReadonlyArray<string | number>): string {
  let s = ''
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : (s ? '.' : '') + p
  return s
}

/**
 * A JSON file scit wrote into a data dir, read whole and checked against
 * `schema` (compiled once): null when it is absent. A file that
 * is too large, not JSON or not of the schema (damaged, edited by hand) is
 * INVALID_CONFIG naming the file and its first problems, never met later as
 * a crash; `fix` says what to do about it.
 */
export function readJsonFile<T>(
  file: string,
  o: { max: number; schema: object; fix: string }
): T | null {
  const bad = (why: string): never => {
    throw new ScitError('INVALID_CONFIG', `${file}: ${why} (${o.fix})`)
  }
  const read = readDataFile(file, o.max)
  if (read === null) return null
  if ('why' in read) return bad(read.why)
  let doc: unknown
  try {
    doc = JSON.parse(read.text)
  } catch (err) {
    return bad(`not JSON (${(err as Error).message})`)
  }
  let validate = compiled.get(o.schema)
  if (validate === undefined) compiled.set(o.schema, (validate = compileSchema(o.schema)))
  const problems = problemsOf(validate, doc, 'the file')
  if (problems.length > 0) {
    const more = problems.length > 3 ? `; … and ${problems.length - 3} more` : ''
    bad(
      problems
        .slice(0, 3)
        .map((p) => p.message)
        .join('; ') + more
    )
  }
  return doc as T
}

const compiled = new WeakMap<object, ValidateFunction>()
