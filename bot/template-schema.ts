/**
 * The template document's JSON Schema (shape only: field names and types),
 * and the mapping of ajv's errors back to YAML lines. What depends on values
 * (parameter bounds, expressions, keys, kind-specific fields) is checked in
 * template.ts, with the same locations.
 */
import Ajv, { ErrorObject, ValidateFunction } from 'ajv'
import { WORKLOAD_KINDS, RESTART_POLICIES } from '../lib/workload-kinds'

/** A literal or a string with `${…}` expressions. */
const expr = { type: ['string', 'integer', 'number'] }
const exprList = { type: 'array', items: expr }
const name = { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$' }

const parameter = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: { enum: ['int', 'string', 'enum', 'size', 'bool'] },
    default: { type: ['string', 'integer', 'boolean'] },
    min: { type: ['string', 'integer'] },
    max: { type: ['string', 'integer'] },
    values: { type: 'array', items: { type: 'string' }, minItems: 1, uniqueItems: true },
    pattern: { type: 'string' },
    description: { type: 'string' }
  }
}

const workload = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'kind'],
  properties: {
    name,
    kind: { enum: WORKLOAD_KINDS },
    description: { type: 'string' },
    files: { type: 'array', items: { type: 'string', minLength: 1 } },
    command: { type: 'array', items: expr, minItems: 1 },
    env: {
      type: 'object',
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
      additionalProperties: expr
    },
    ports: exprList,
    restart: { enum: RESTART_POLICIES },
    resources: {
      type: 'object',
      additionalProperties: false,
      properties: { cpu: expr, memory: expr, ssd: expr, hdd: expr, ipv4: expr, gpu: expr }
    },
    replicas: expr,
    budget: expr,
    output: { type: 'string', minLength: 1 },
    retain: expr,
    // "public", or keys (z-base-32) and roles (bot, stakeholders, a stakeholder role)
    access: {
      anyOf: [
        { const: 'public' },
        { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true }
      ]
    },
    // declared only to be refused with a reason (template.ts): workloads get no outbound network
    egress: {},
    state: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
    stateInterval: expr,
    mirror: {
      type: 'object',
      additionalProperties: false,
      required: ['size'],
      properties: { size: expr, source: { type: 'string' } }
    },
    archive: {
      type: 'object',
      additionalProperties: false,
      required: ['size', 'data', 'parity'],
      properties: { size: expr, data: expr, parity: expr, shard: expr, price: expr }
    }
  }
}

export const TEMPLATE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'version', 'workloads', 'duration', 'budget'],
  properties: {
    name,
    version: { type: 'integer', minimum: 1 },
    description: { type: 'string' },
    parameters: {
      type: 'object',
      propertyNames: { pattern: '^[a-z_][a-z0-9_]*$' },
      additionalProperties: parameter
    },
    workloads: { type: 'array', minItems: 1, items: workload },
    placement: {
      type: 'object',
      additionalProperties: false,
      properties: {
        countries: exprList,
        attributes: exprList,
        spread: { type: ['boolean', 'string'] }
      }
    },
    duration: expr,
    budget: expr,
    stakeholders: {
      type: 'object',
      additionalProperties: false,
      required: ['threshold', 'signers'],
      properties: {
        threshold: { type: 'integer', minimum: 1 },
        signers: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['key', 'role'],
            properties: {
              key: { type: 'string' },
              role: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
              weight: { type: 'integer', minimum: 1 },
              name: { type: 'string' }
            }
          }
        }
      }
    }
  }
} as const

// compiled on first use: every `scit` command imports this file, few check templates
let validate: ValidateFunction | null = null

export interface SchemaProblem {
  path: Array<string | number>
  message: string
  key?: boolean
}

/** Validate the shape; each problem names the path of the offending value (or key). */
export function schemaProblems(doc: unknown): SchemaProblem[] {
  validate ??= new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(
    TEMPLATE_SCHEMA
  )
  if (validate(doc)) return []
  const seen = new Set<string>()
  const out: SchemaProblem[] = []
  for (const e of validate.errors ?? []) {
    const p = describe(e)
    // ajv reports a union type once per branch: keep one line per place and message
    const k = JSON.stringify(p)
    if (!seen.has(k)) {
      seen.add(k)
      out.push(p)
    }
  }
  return out
}

function describe(e: ErrorObject): SchemaProblem {
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
        message: `${at || 'the template'} must be ${String(params.type)
          .split(',')
          .map((t) => (t === 'integer' ? 'a whole number' : `a ${t}`))
          .join(' or ')}`
      }
    case 'pattern':
      return { path, message: `${at} must match ${String(params.pattern)}` }
    case 'propertyNames':
      return { path, message: `${at}: "${String(params.propertyName)}" is not a valid name` }
    default:
      return { path, message: `${at || 'the template'} ${e.message ?? 'is invalid'}` }
  }
}

/** ["workloads", 0, "kind"] → "workloads[0].kind" */
export function formatPath(path: ReadonlyArray<string | number>): string {
  let s = ''
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : (s ? '.' : '') + p
  return s
}
