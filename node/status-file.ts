/**
 * The daemon's live view for `scit node status`, which cannot open the locked
 * Corestore; rewritten atomically. A convenience, never a source of truth.
 */
import fs from 'fs'
import path from 'path'
import { RESOURCE_KINDS, type Resources } from '../lib/resources'
import { readJsonFile } from '../lib/schema'

export const STATUS_FILE = 'node-state.json'

export interface StatusFileWorkload {
  workload: string
  state: string
  reason: string
  restarts: number
  trade: string | null
}

/** Prices per hour in the market's smallest unit, times in ms. */
export interface StatusFileLease {
  trade: string
  bot: string
  contract: string | null
  resources: Resources
  price: number
  start: number | null
  end: number | null
}

export interface StatusFile {
  key: string
  /** The daemon's pid while it runs; null after a clean stop. */
  pid: number | null
  capacity: Resources
  free: Resources | null
  statusCore: string
  updated: number
  workloads: StatusFileWorkload[]
  /** Absent in files written before leases were recorded. */
  leases?: StatusFileLease[]
  /** z32 key of the market the leases are on; absent in older files. */
  market?: string
}

export function writeStatusFile(data: string, status: StatusFile): void {
  const file = path.join(data, STATUS_FILE)
  fs.writeFileSync(file + '.tmp', JSON.stringify(status, null, 2) + '\n', { mode: 0o600 })
  fs.renameSync(file + '.tmp', file)
}

/** The file as the daemon last wrote it, or null; a damaged one is INVALID_CONFIG naming it. */
export function readStatusFile(data: string): StatusFile | null {
  return readJsonFile<StatusFile>(path.join(data, STATUS_FILE), {
    max: 64 * 1024 * 1024,
    schema: SCHEMA,
    fix: 'the node rewrites it when it runs: remove it, and start the node on the market its leases are on'
  })
}

const str = { type: 'string' }
const strOrNull = { type: ['string', 'null'] }
const whole = { type: 'integer', minimum: 0 }
const time = { type: ['number', 'null'] }
// kinds are not required: a file from before a kind was added lacks it
const resources = {
  type: 'object',
  properties: Object.fromEntries(RESOURCE_KINDS.map((k) => [k, whole]))
}

/** Fields it does not name are let through (a newer scit may add some). */
const SCHEMA = {
  type: 'object',
  required: ['key', 'pid', 'capacity', 'free', 'statusCore', 'updated', 'workloads'],
  properties: {
    key: str,
    pid: { type: ['integer', 'null'], minimum: 1 },
    capacity: resources,
    free: { ...resources, type: ['object', 'null'] },
    statusCore: str,
    updated: { type: 'number' },
    workloads: {
      type: 'array',
      items: {
        type: 'object',
        required: ['workload', 'state', 'reason', 'restarts', 'trade'],
        properties: { workload: str, state: str, reason: str, restarts: whole, trade: strOrNull }
      }
    },
    leases: {
      type: 'array',
      items: {
        type: 'object',
        required: ['trade', 'bot', 'contract', 'resources', 'price', 'start', 'end'],
        properties: {
          trade: str,
          bot: str,
          contract: strOrNull,
          resources,
          price: { type: 'number' },
          start: time,
          end: time
        }
      }
    },
    market: str
  }
}
