/**
 * The schema of <data>/bot/state.json (records.ts). scit writes it, but it is
 * a file on disk: a hand edit or a bad copy is refused with the field that is
 * wrong when it is read, never met later as a crash. Fields it does not name
 * are let through (a newer scit may add some).
 */

export const STATE_VERSION = 1

/** The phases of each record: the types in records.ts are made from these lists. */
export const BID_PHASES = [
  'intent',
  'submitted',
  'filled',
  'expired',
  'cancelled',
  'rejected'
] as const
export const TRADE_PHASES = ['matched', 'settled', 'closed', 'failed', 'ended', 'released'] as const
export const DEPLOYMENT_PHASES = [
  'trading',
  'header',
  'approvals',
  'deploying',
  'running',
  'stopped',
  'failed',
  /** Its workloads are jobs, and every one ended (bot/jobs.ts). */
  'finished'
] as const

const str = { type: 'string' }
const strOrNull = { type: ['string', 'null'] }
const num = { type: 'number' }
const int = { type: 'integer', minimum: 0 }
const hex = { type: 'string', pattern: '^([0-9a-f]{2})*$' }
const strings = { type: 'array', items: str }

const bid = {
  type: 'object',
  required: ['workload', 'attempt', 'body', 'id', 'phase', 'reason', 'replaces'],
  properties: {
    workload: str,
    attempt: int,
    body: {
      type: 'object',
      required: [
        'resources',
        'replicas',
        'countries',
        'attributes',
        'spread',
        'maxPrice',
        'duration',
        'expiry',
        'exclude'
      ],
      properties: {
        resources: { type: 'object', additionalProperties: int },
        replicas: int,
        countries: strings,
        attributes: strings,
        spread: { type: 'boolean' },
        maxPrice: int,
        duration: int,
        expiry: int,
        exclude: strings
      }
    },
    id: strOrNull,
    phase: { enum: BID_PHASES },
    reason: strOrNull,
    replaces: strOrNull,
    hard: strings
  }
}

const snapshot = {
  type: ['object', 'null'],
  required: ['core', 'length', 'seq', 'hash', 'files', 'size', 'time', 'verified'],
  properties: {
    core: str,
    length: int,
    seq: int,
    hash: hex,
    files: int,
    size: int,
    time: num,
    verified: num
  }
}

const job = {
  type: ['object', 'null'],
  required: ['state', 'exitCode', 'reason', 'output', 'stdout', 'core', 'signed'],
  properties: {
    state: { enum: ['exited', 'failed'] },
    exitCode: { type: ['integer', 'null'] },
    reason: str,
    output: { ...hex, type: ['string', 'null'] },
    stdout: { ...hex, type: ['string', 'null'] },
    core: strOrNull,
    signed: num
  }
}

const trade = {
  type: 'object',
  required: ['id', 'workload', 'node', 'price', 'phase', 'replaces', 'reason'],
  properties: {
    id: str,
    workload: str,
    node: str,
    price: num,
    phase: { enum: TRADE_PHASES },
    replaces: strOrNull,
    reason: strOrNull,
    snapshot,
    job,
    healing: str,
    unreached: num
  }
}

const deployment = {
  type: 'object',
  required: [
    'id',
    'template',
    'set',
    'manifestHash',
    'manifest',
    'sources',
    'contract',
    'phase',
    'bids',
    'trades',
    'created',
    'error'
  ],
  properties: {
    id: { type: 'string', minLength: 1 },
    template: str,
    set: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
    manifestHash: hex,
    manifest: hex,
    sources: {
      type: 'array',
      items: {
        type: 'object',
        required: ['workload', 'path', 'source'],
        properties: { workload: str, path: str, source: str }
      }
    },
    contract: strOrNull,
    phase: { enum: DEPLOYMENT_PHASES },
    bids: { type: 'array', items: bid },
    trades: { type: 'array', items: trade },
    created: num,
    error: strOrNull,
    stopping: str
  }
}

/** The whole file; `version` is the only format records.ts reads. */
export const STATE_SCHEMA = {
  type: 'object',
  required: ['version', 'deployments'],
  properties: {
    version: { const: STATE_VERSION },
    market: str,
    deployments: { type: 'array', items: deployment }
  }
}
