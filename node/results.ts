/**
 * A job's declared output, kept for its bot: at the exit its node snapshots the output file into a
 * core of its own (lib/state-core.ts format) named by the exit's status record, and keeps it for the
 * contract's `retain` (<data>/results.json says until when), then clears it.
 */
import fs from 'fs'
import path from 'path'
import type Corestore from 'corestore'
import type { KeyPair } from '../lib/identity'
import { decodeKey, encodeKey } from '../lib/keys'
import { logger } from '../lib/log'
import { readJsonFile } from '../lib/schema'
import { StateKeeper } from './state-keeper'
import safetyCatch from 'safety-catch'

const log = logger('node/results')
const FILE = 'results.json'
/** How often kept outputs are checked for their end. */
const SWEEP = 3_600_000

const SCHEMA = {
  type: 'object',
  additionalProperties: {
    type: 'object',
    required: ['core', 'retain', 'until'],
    properties: {
      core: { type: 'string' },
      retain: { type: 'integer', minimum: 0 },
      until: { type: ['number', 'null'] }
    }
  }
}

interface Kept {
  core: string
  /** How long after its lease ends (the contract's `retain`, ms). */
  retain: number
  /** When the node may clear it (ms); null while its lease runs. */
  until: number | null
}

export interface ResultsOptions {
  /** The daemon's 'scit/node' namespace: a result core sits with the state cores. */
  store: Corestore
  identity: KeyPair
  data: string
}

/** What the node keeps until when; a damaged file is INVALID_CONFIG naming it. */
export function readResultsFile(data: string): Record<string, Kept> {
  return (
    readJsonFile<Record<string, Kept>>(path.join(data, FILE), {
      max: 64 * 1024 * 1024,
      schema: SCHEMA,
      fix: 'restore it from a backup; removed, the outputs it names are no longer served'
    }) ?? {}
  )
}

export class JobResults {
  private readonly kept: Record<string, Kept>
  private readonly file: string
  private timer: NodeJS.Timeout | null = null
  private sweeping: Promise<void> = Promise.resolve()

  constructor(private readonly o: ResultsOptions) {
    this.file = path.join(o.data, FILE)
    this.kept = readResultsFile(o.data)
  }

  /** The result core of workload `id`, once its job exited with an output. */
  key(id: string): Buffer | null {
    const k = this.kept[id]
    return k === undefined ? null : decodeKey(k.core, 'result core')
  }

  /** Sweep now and every hour. */
  start(): void {
    this.sweep()
    this.timer = setInterval(() => this.sweep(), SWEEP)
    this.timer.unref()
  }

  /**
   * Snapshot the output of job `id` (contract `contract`) into its result
   * core, to keep `retain` ms past its lease; resolves with the core's key,
   * or null when there was no file to keep (the record's digest is null then too).
   */
  async capture(
    id: string,
    contract: Buffer,
    workDir: string,
    o: { output: string; limit: number; retain: number }
  ): Promise<Buffer | null> {
    const keeper = new StateKeeper(this.o.store, this.o.identity, {
      id,
      contract,
      spec: { paths: [o.output], interval: SWEEP },
      limit: o.limit,
      workDir,
      staging: path.join(this.o.data, 'state', id)
    })
    try {
      await keeper.open()
      await keeper.snapshot()
      if (keeper.last === null) return null
      this.kept[id] = { core: encodeKey(keeper.key), retain: o.retain, until: null }
      this.save()
      return keeper.key
    } finally {
      await keeper.close(false)
    }
  }

  /** Its lease is over (seen now, or at the first scan after a restart): keep the output `retain` ms more. */
  ended(id: string): void {
    const k = this.kept[id]
    if (k === undefined || k.until !== null) return
    k.until = Date.now() + k.retain
    this.save()
  }

  /** Clear the outputs whose time is up. */
  sweep(): Promise<void> {
    this.sweeping = this.sweeping.then(() => this.clearDue()).catch(safetyCatch)
    return this.sweeping
  }

  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer)
    await this.sweeping
  }

  private async clearDue(): Promise<void> {
    const now = Date.now()
    for (const [id, k] of Object.entries(this.kept)) {
      if (k.until === null || k.until > now) continue
      const core = this.o.store.get({ key: decodeKey(k.core, 'result core') })
      try {
        await core.ready()
        if (core.length > 0) await core.clear(0, core.length)
      } catch (err) {
        log.warn('could not clear a kept output', { id, err: (err as Error).message })
        continue
      } finally {
        await core.close()
      }
      delete this.kept[id]
      this.save()
      log.info('kept output cleared: its retention ended', { id })
    }
  }

  private save(): void {
    const tmp = this.file + '.tmp'
    fs.writeFileSync(tmp, JSON.stringify(this.kept, null, 1) + '\n', { mode: 0o600 })
    fs.renameSync(tmp, this.file)
  }
}
