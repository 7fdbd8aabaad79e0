/**
 * What a node publishes for anyone to read, declared once: the node writes
 * these, bots and the explorer verify and read them.
 *
 *   status core    `status` envelopes, body StatusRecord   (one per workload state transition)
 *   log core       `log` envelopes, body LogRecord         (bounded chunks of stdout/stderr)
 *   DHT presence   a `presence` envelope, body PresenceRecord (mutable record under the node key)
 *
 * The node protocol's messages, which only the node and its peers on a
 * connection speak, are in node/messages.ts.
 *
 * Every body is decoded strictly (lib/codec decodeExact): one value, one encoding.
 */
import c from 'compact-encoding'
import { struct, optional, enumOf, nonNullBuffer } from './codec'
import type { Resources } from './resources'

export const PRESENCE_VERSION = 1

/** The states a workload moves through on a node (node/workload.ts), as its status core records them. */
export const WORKLOAD_STATES = ['verifying', 'refused', 'starting', 'running', 'exited', 'failed', 'stopped'] as const
export type WorkloadState = typeof WORKLOAD_STATES[number]

/** A declared port and the host port the node gave it. */
export interface PortMapping { port: number; host: number }

export const resourcesEncoding = struct<Resources>([['cpu', c.uint], ['memory', c.uint], ['ssd', c.uint], ['hdd', c.uint], ['ipv4', c.uint], ['gpu', c.uint]])
export const portMapping = struct<PortMapping>([['port', c.uint], ['host', c.uint]])
export const stateEncoding = enumOf<WorkloadState>(WORKLOAD_STATES)

export interface StatusRecord {
  workload: string
  state: WorkloadState
  reason: string
  exitCode: number | null
  signal: string | null
  stdout: Buffer | null      // BLAKE2b-256 of a job's whole stdout
  output: Buffer | null      // BLAKE2b-256 of a job's declared output file
  ports: PortMapping[]
  restarts: number
  contract: Buffer | null    // the contract core the workload comes from
  trade: string | null
}

export const statusRecord = struct<StatusRecord>([
  ['workload', c.string], ['state', stateEncoding], ['reason', c.string],
  ['exitCode', optional(c.int)], ['signal', optional(c.string)],
  ['stdout', optional(c.fixed32)], ['output', optional(c.fixed32)],
  ['ports', c.array(portMapping)], ['restarts', c.uint],
  ['contract', optional(c.fixed32)], ['trade', optional(c.string)]
])

export type Stream = 'stdout' | 'stderr'
export interface LogRecord {
  workload: string
  stream: Stream
  /** Bytes of this stream before this chunk; a gap means bytes were dropped (rate bound). */
  offset: number
  data: Buffer
}

export const logRecord = struct<LogRecord>([
  ['workload', c.string], ['stream', enumOf<Stream>(['stdout', 'stderr'])], ['offset', c.uint], ['data', nonNullBuffer()]
])

export interface PresenceRecord {
  version: number
  market: Buffer
  resources: Resources       // capacity for sale
  free: Resources            // not held by a lease
  prices: Resources
  country: string
  city: string
  attributes: string[]
  statusCore: Buffer
  logCore: Buffer
}

export const presenceRecord = struct<PresenceRecord>([
  ['version', c.uint], ['market', c.fixed32], ['resources', resourcesEncoding], ['free', resourcesEncoding], ['prices', resourcesEncoding],
  ['country', c.string], ['city', c.string], ['attributes', c.array(c.string)], ['statusCore', c.fixed32], ['logCore', c.fixed32]
])
