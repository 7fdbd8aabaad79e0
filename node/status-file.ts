/**
 * The daemon's live view for `scit node status`, which cannot open the locked
 * Corestore; rewritten atomically. A convenience, never a source of truth.
 */
import fs from 'fs'
import path from 'path'
import type { Resources } from '../lib/resources'

export const SNAPSHOT_FILE = 'node-state.json'

export interface SnapshotWorkload {
  workload: string
  state: string
  reason: string
  restarts: number
  trade: string | null
}

/** Prices per hour in the market's smallest unit, times in ms. */
export interface SnapshotLease {
  trade: string
  bot: string
  contract: string | null
  resources: Resources
  price: number
  start: number | null
  end: number | null
}

export interface Snapshot {
  key: string
  /** The daemon's pid while it runs; null after a clean stop. */
  pid: number | null
  capacity: Resources
  free: Resources | null
  statusCore: string
  updated: number
  workloads: SnapshotWorkload[]
  /** Absent in snapshots written before leases were recorded. */
  leases?: SnapshotLease[]
  /** z32 key of the market the leases are on; absent in older snapshots. */
  market?: string
}

export function writeSnapshot(data: string, snap: Snapshot): void {
  const file = path.join(data, SNAPSHOT_FILE)
  fs.writeFileSync(file + '.tmp', JSON.stringify(snap, null, 2) + '\n', { mode: 0o600 })
  fs.renameSync(file + '.tmp', file)
}

export function readSnapshot(data: string): Snapshot | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(data, SNAPSHOT_FILE), 'utf8')) as Snapshot
  } catch {
    return null
  }
}
