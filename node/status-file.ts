/**
 * The daemon's live view for `scit node status`, which cannot open the locked
 * Corestore; rewritten atomically. A convenience, never a source of truth.
 */
import fs from 'fs'
import path from 'path'
import type { Resources } from '../lib/resources'

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

export function readStatusFile(data: string): StatusFile | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(data, STATUS_FILE), 'utf8')) as StatusFile
  } catch {
    return null
  }
}
