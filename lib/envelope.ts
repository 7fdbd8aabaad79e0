/**
 * The signed envelope: the one record format every component signs (market
 * ops, contract instructions, approvals, status records).
 *
 *   version · type · author · seq · timestamp · body · signature
 *
 * The signature is Ed25519 by `author` over NAMESPACE ‖ the encoding of every
 * field before it, so an envelope cannot be re-labelled as another type, moved
 * to another author, or have its body swapped. `seq` is per author and must
 * grow: readers keep the last seq they accepted and refuse replays.
 */
import c from 'compact-encoding'
import b4a from 'b4a'
import { ScitError } from './errors'
import { sign, verifySignature, KeyPair } from './identity'
import { hash, encodeKey } from './keys'
import { decodeExact } from './codec'

export const ENVELOPE_VERSION = 1
export const MAX_ENVELOPE_BYTES = 64 * 1024
const NAMESPACE = b4a.from('scit/envelope/v1\n')

/** Every envelope type, with a stable wire code. Codes are never reused. */
export const TYPES = {
  // market ledger (market/)
  offer: 1,
  'offer-update': 2,
  withdraw: 3,
  bid: 4,
  cancel: 5,
  settle: 6,
  close: 7,
  fail: 8,
  claim: 9,
  deposit: 10,
  transfer: 11,
  template: 12,
  governance: 13,
  // per-contract notary core (bot/)
  'contract-header': 32,
  instruction: 33,
  approval: 34,
  archive: 35, // an archive's catalog records (lib/archive/messages.ts)
  // node status core and presence (node/)
  status: 48,
  presence: 49,
  log: 50,
  // per-replica state core (node/state-keeper.ts)
  snapshot: 51
} as const

export type TypeName = keyof typeof TYPES
const NAMES = new Map<number, TypeName>(Object.entries(TYPES).map(([k, v]) => [v, k as TypeName]))

export function typeName(code: number): TypeName | undefined {
  return NAMES.get(code)
}

export interface Envelope {
  version: number
  type: number
  author: Buffer
  seq: number
  timestamp: number
  body: Buffer
  signature: Buffer
}

export type Unsigned = Omit<Envelope, 'signature'>

const unsignedEncoding: c.Encoding<Unsigned> = {
  preencode(state, m) {
    c.uint.preencode(state, m.version)
    c.uint.preencode(state, m.type)
    c.fixed32.preencode(state, m.author)
    c.uint.preencode(state, m.seq)
    c.uint.preencode(state, m.timestamp)
    c.buffer.preencode(state, m.body)
  },
  encode(state, m) {
    c.uint.encode(state, m.version)
    c.uint.encode(state, m.type)
    c.fixed32.encode(state, m.author)
    c.uint.encode(state, m.seq)
    c.uint.encode(state, m.timestamp)
    c.buffer.encode(state, m.body)
  },
  decode(state) {
    return {
      version: c.uint.decode(state),
      type: c.uint.decode(state),
      author: c.fixed32.decode(state),
      seq: c.uint.decode(state),
      timestamp: c.uint.decode(state),
      body: c.buffer.decode(state) ?? b4a.alloc(0)
    }
  }
}

export const envelopeEncoding: c.Encoding<Envelope> = {
  preencode(state, m) {
    unsignedEncoding.preencode(state, m)
    c.fixed64.preencode(state, m.signature)
  },
  encode(state, m) {
    unsignedEncoding.encode(state, m)
    c.fixed64.encode(state, m.signature)
  },
  decode(state) {
    const u = unsignedEncoding.decode(state)
    return { ...u, signature: c.fixed64.decode(state) }
  }
}

function signable(u: Unsigned): Buffer {
  return b4a.concat([NAMESPACE, c.encode(unsignedEncoding, u)])
}

export interface SealInput {
  type: TypeName
  seq: number
  timestamp: number
  body: Uint8Array
}

/** Sign and encode an envelope. Throws INVALID_ENVELOPE for anything a reader would refuse. */
export function seal(keyPair: KeyPair, input: SealInput): Buffer {
  const type = TYPES[input.type]
  if (type === undefined)
    throw new ScitError('INVALID_ENVELOPE', `unknown envelope type "${String(input.type)}"`)
  for (const [name, v] of [
    ['seq', input.seq],
    ['timestamp', input.timestamp]
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new ScitError(
        'INVALID_ENVELOPE',
        `${name} must be a non-negative safe integer, got ${v}`
      )
  }
  const u: Unsigned = {
    version: ENVELOPE_VERSION,
    type,
    author: keyPair.publicKey,
    seq: input.seq,
    timestamp: input.timestamp,
    body: b4a.from(input.body)
  }
  const buf = c.encode(envelopeEncoding, { ...u, signature: sign(signable(u), keyPair.secretKey) })
  if (buf.byteLength > MAX_ENVELOPE_BYTES) {
    throw new ScitError(
      'INVALID_ENVELOPE',
      `envelope is ${buf.byteLength} bytes, the limit is ${MAX_ENVELOPE_BYTES}`
    )
  }
  return buf
}

export type RejectReason =
  'malformed' | 'too-large' | 'unknown-type' | 'bad-version' | 'bad-signature' | 'replay'

export type Opened =
  | { ok: true; envelope: Envelope; id: string }
  | { ok: false; reason: RejectReason; message: string }

export interface OpenOptions {
  /** The highest seq already accepted from this author: anything not above it is a replay. */
  lastSeq?: number
  /** Restrict to these types (e.g. a market accepts only market ops). */
  accept?: ReadonlySet<number>
  /** envelopeId(buf), when the caller already has it: the bytes are hashed once. */
  id?: string
}

/**
 * Decode and verify an envelope. Never throws: every failure comes back as a
 * typed reason, so that a reader can record why it refused a record.
 */
export function open(buf: Uint8Array, opts: OpenOptions = {}): Opened {
  if (buf.byteLength > MAX_ENVELOPE_BYTES) {
    return {
      ok: false,
      reason: 'too-large',
      message: `envelope is ${buf.byteLength} bytes, the limit is ${MAX_ENVELOPE_BYTES}`
    }
  }
  let envelope: Envelope
  try {
    envelope = decodeExact(envelopeEncoding, buf)
  } catch (err) {
    return {
      ok: false,
      reason: 'malformed',
      message: `envelope does not decode: ${(err as Error).message}`
    }
  }
  if (envelope.version !== ENVELOPE_VERSION) {
    return {
      ok: false,
      reason: 'bad-version',
      message: `envelope version ${envelope.version} is not supported (this build reads ${ENVELOPE_VERSION})`
    }
  }
  if (!NAMES.has(envelope.type) || (opts.accept && !opts.accept.has(envelope.type))) {
    return {
      ok: false,
      reason: 'unknown-type',
      message: `envelope type ${envelope.type} is not accepted here`
    }
  }
  if (!verifySignature(signable(envelope), envelope.signature, envelope.author)) {
    return {
      ok: false,
      reason: 'bad-signature',
      message: `signature does not verify for author ${encodeKey(envelope.author)}`
    }
  }
  if (opts.lastSeq !== undefined && envelope.seq <= opts.lastSeq) {
    return {
      ok: false,
      reason: 'replay',
      message: `seq ${envelope.seq} from ${encodeKey(envelope.author)} is not above ${opts.lastSeq}`
    }
  }
  return { ok: true, envelope, id: opts.id ?? envelopeId(buf) }
}

/**
 * The id of an envelope: its signed timestamp (16 digits) and the hash of its exact bytes, z32-encoded
 * (`0001764633600000-ybndr…`). Ids sort by signing time, so the records the market keys by op id (outcomes,
 * bids, trades) are appended at the right edge of the view's B-tree instead of at random places in it: the
 * market's history stays in the tree's cold left part, and writing the next op costs the same at any age.
 * Bytes whose timestamp does not decode get time 0.
 */
export function envelopeId(buf: Uint8Array): string {
  return `${String(signedTime(buf)).padStart(16, '0')}-${encodeKey(hash('scit/envelope-id', buf))}`
}

/** An id for people: the start of its hash (`ybndrfg8ejkm`). */
export function shortId(id: string, length = 12): string {
  return id.slice(id.indexOf('-') + 1, id.indexOf('-') + 1 + length)
}

function signedTime(buf: Uint8Array): number {
  const state = { start: 0, end: buf.byteLength, buffer: buf as Buffer }
  try {
    c.uint.decode(state) // version
    c.uint.decode(state) // type
    state.start += 32 // author
    c.uint.decode(state) // seq
    const t = c.uint.decode(state)
    return state.start <= state.end ? Math.min(t, MAX_ID_TIME) : 0
  } catch {
    return 0
  }
}
const MAX_ID_TIME = 10 ** 16 - 1
