/**
 * The template document's JSON Schema (shape only: field names and types;
 * lib/schema.ts maps ajv's errors to paths, template.ts to YAML lines). What depends on values
 * (parameter bounds, expressions, keys, kind-specific fields) is checked in
 * template.ts, with the same locations.
 */
import type { ValidateFunction } from 'ajv'
import { compileSchema, problemsOf, SchemaProblem } from '../lib/schema'
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

/** Validate the shape; each problem names the path of the offending value (or key). */
export function schemaProblems(doc: unknown): SchemaProblem[] {
  validate ??= compileSchema(TEMPLATE_SCHEMA)
  return problemsOf(validate, doc)
}
