/**
 * Reading a node's status and log cores (docs/ARCHITECTURE.md "Execution"): every record is
 * checked against the node's identity, and envelope seq = block index + 1, so
 * records moved between positions or cores are refused.
 */
import type Hypercore from 'hypercore'
import b4a from 'b4a'
import c from 'compact-encoding'
import { open, TYPES } from './envelope'
import { decodeBody } from './codec'
import { isScitError } from './errors'
import { statusRecord, logRecord, StatusRecord, LogRecord } from './node-messages'

export type Refusal = { index: number; reason: string; message: string }
export interface Verified<T> {
  index: number
  timestamp: number
  body: T
}
export interface ReadResult<T> {
  records: Array<Verified<T>>
  refused: Refusal[]
}

export interface ReadOptions {
  start?: number
  end?: number
  wait?: boolean
  timeout?: number
}

/** Records that are not `status` (or `log`) envelopes signed by `node` with seq = index + 1 are skipped with a reason. */
export async function readCore<T>(
  core: Hypercore,
  node: Buffer,
  kind: 'status' | 'log',
  opts: ReadOptions = {}
): Promise<ReadResult<T>> {
  await core.ready()
  const enc = (kind === 'status' ? statusRecord : logRecord) as unknown as c.Encoding<T>
  const accept = new Set<number>([TYPES[kind]])
  const out: ReadResult<T> = { records: [], refused: [] }
  const end = Math.min(opts.end ?? core.length, core.length)
  for (let i = opts.start ?? 0; i < end; i++) {
    const block = await core.get(i, { wait: opts.wait ?? true, timeout: opts.timeout ?? 10_000 })
    if (block === null) {
      out.refused.push({ index: i, reason: 'missing', message: `block ${i} is not available` })
      continue
    }
    const r = open(block, { accept })
    if (!r.ok) {
      out.refused.push({ index: i, reason: r.reason, message: r.message })
      continue
    }
    if (!b4a.equals(r.envelope.author, node)) {
      out.refused.push({
        index: i,
        reason: 'wrong-author',
        message: `block ${i} is not signed by the node`
      })
      continue
    }
    if (r.envelope.seq !== i + 1) {
      out.refused.push({
        index: i,
        reason: 'replay',
        message: `block ${i} carries seq ${r.envelope.seq}`
      })
      continue
    }
    try {
      out.records.push({
        index: i,
        timestamp: r.envelope.timestamp,
        body: decodeBody(enc, r.envelope.body, kind)
      })
    } catch (err) {
      const reason = isScitError(err, 'UNSUPPORTED') ? 'unsupported' : 'malformed'
      out.refused.push({ index: i, reason, message: (err as Error).message })
    }
  }
  return out
}

/** The last verified status of one workload (that `where` holds for), read backwards from the end; null when none. */
export async function lastStatus(
  core: Hypercore,
  node: Buffer,
  workload: string,
  opts: { timeout?: number; chunk?: number; where?: (r: StatusRecord) => boolean } = {}
): Promise<{ record: Verified<StatusRecord> | null; refused: Refusal[] }> {
  await core.ready()
  const chunk = opts.chunk ?? 64
  const refused: Refusal[] = []
  for (let end = core.length; end > 0; end -= chunk) {
    const r = await readCore<StatusRecord>(core, node, 'status', {
      start: Math.max(0, end - chunk),
      end,
      timeout: opts.timeout
    })
    refused.push(...r.refused)
    for (let i = r.records.length - 1; i >= 0; i--)
      if (r.records[i].body.workload === workload && (opts.where?.(r.records[i].body) ?? true))
        return { record: r.records[i], refused }
  }
  return { record: null, refused }
}

/** Verified log chunks of one workload in blocks [start, end). */
export async function workloadLogs(
  core: Hypercore,
  node: Buffer,
  workload: string,
  opts: ReadOptions = {}
): Promise<ReadResult<LogRecord>> {
  const r = await readCore<LogRecord>(core, node, 'log', opts)
  return { records: r.records.filter((x) => x.body.workload === workload), refused: r.refused }
}
