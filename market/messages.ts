/**
 * Wire and view encodings of the market (compact-encoding). Op bodies decode strictly (else `malformed`), lists
 * bounded before allocation, then the op's rules in engine/ops.ts apply. View records are written only by the
 * engine, so they are decoded strictly but not re-validated.
 */
import c from 'compact-encoding'
import b4a from 'b4a'
import z32 from 'z32'
import { struct, optional, decodeExact } from '../lib/codec'
import { encodeKey } from '../lib/keys'
import { RESOURCE_KINDS, Resources } from '../lib/resources'
import type {
  OfferBody,
  WithdrawBody,
  BidBody,
  CancelBody,
  SettleBody,
  TradeRefBody,
  DepositBody,
  TransferBody,
  TemplateBody,
  TemplateFile,
  GovernanceBody,
  Offer,
  Bid,
  BidState,
  Trade,
  TradeState,
  Template,
  Outcome,
  RejectReason
} from './types'

export const LIMITS = {
  replicas: 256,
  attributes: 32,
  attribute: 32,
  countries: 64,
  exclude: 256,
  city: 64,
  reason: 256,
  id: 128,
  templateName: 64,
  /** A template's document and files together: an op fits an envelope (lib/envelope MAX_ENVELOPE_BYTES). */
  template: 60 * 1024,
  templateFiles: 256,
  manifest: 64,
  faucets: 64,
  window: 2 ** 40 // ms (about 34 years): any lease or settlement window, so time sums stay below 2^53
} as const

/** A list whose length is checked before anything is allocated (c.array allows 2^20). */
export function list<T>(enc: c.Encoding<T>, max: number): c.Encoding<T[]> {
  return {
    preencode(state, v) {
      c.uint.preencode(state, v.length)
      for (const x of v) enc.preencode(state, x)
    },
    encode(state, v) {
      c.uint.encode(state, v.length)
      for (const x of v) enc.encode(state, x)
    },
    decode(state) {
      const len = c.uint.decode(state)
      if (len > max) throw new Error(`list of ${len} is longer than ${max}`)
      const out: T[] = []
      for (let i = 0; i < len; i++) out.push(enc.decode(state))
      return out
    }
  }
}

/** A 32-byte key on the wire, its z32 text in memory (KeyText). */
export const keyText: c.Encoding<string> = {
  preencode(state) {
    state.end += 32
  },
  encode(state, v) {
    c.fixed32.encode(state, keyBytes(v))
  },
  decode(state) {
    return keyString(c.fixed32.decode(state))
  }
}

// z32 is slow in JS and every record carries keys: memoized both ways (bounded; results never depend on it).
const toBytes = new Map<string, Buffer>()
const toText = new Map<string, string>()
const MEMO = 16384

function keyBytes(text: string): Buffer {
  let buf = toBytes.get(text)
  if (buf === undefined) {
    buf = z32.decode(text)
    if (buf.byteLength !== 32) throw new Error(`not a 32-byte key: ${text}`)
    if (toBytes.size >= MEMO) toBytes.clear()
    toBytes.set(text, buf)
  }
  return buf
}

/** encodeKey(bytes), memoized: a 32-byte key's z32 text. */
export function keyString(bytes: Buffer): string {
  const id = bytes.toString('latin1')
  let text = toText.get(id)
  if (text === undefined) {
    text = encodeKey(bytes)
    if (toText.size >= MEMO) toText.clear()
    toText.set(id, text)
  }
  return text
}

/** A buffer that decodes as a copy, never a view into the (reused) input, and never as null. */
const bytes: c.Encoding<Buffer> = {
  preencode(state, v) {
    c.buffer.preencode(state, v)
  },
  encode(state, v) {
    c.buffer.encode(state, v)
  },
  decode(state) {
    const b = c.buffer.decode(state)
    return b === null ? b4a.alloc(0) : b4a.from(b)
  }
}

const fixed32: c.Encoding<Buffer> = {
  preencode(state) {
    state.end += 32
  },
  encode(state, v) {
    c.fixed32.encode(state, v)
  },
  decode(state) {
    return b4a.from(c.fixed32.decode(state))
  }
}

const hexBytes: c.Encoding<string> = {
  preencode(state, v) {
    bytes.preencode(state, b4a.from(v, 'hex'))
  },
  encode(state, v) {
    bytes.encode(state, b4a.from(v, 'hex'))
  },
  decode(state) {
    return b4a.toString(bytes.decode(state), 'hex')
  }
}

export const resources: c.Encoding<Resources> = {
  preencode(state, r) {
    for (const k of RESOURCE_KINDS) c.uint.preencode(state, r[k])
  },
  encode(state, r) {
    for (const k of RESOURCE_KINDS) c.uint.encode(state, r[k])
  },
  decode(state) {
    return {
      cpu: c.uint.decode(state),
      memory: c.uint.decode(state),
      ssd: c.uint.decode(state),
      hdd: c.uint.decode(state),
      ipv4: c.uint.decode(state),
      gpu: c.uint.decode(state)
    }
  }
}

function enumOf<T extends string>(values: readonly T[]): c.Encoding<T> {
  return {
    preencode(state) {
      state.end++
    },
    encode(state, v) {
      c.uint8.encode(state, values.indexOf(v))
    },
    decode(state) {
      const v = values[c.uint8.decode(state)]
      if (v === undefined) throw new Error('unknown enum value')
      return v
    }
  }
}

const strings = (max: number): c.Encoding<string[]> => list(c.string, max)

// --- op bodies --------------------------------------------------------------

export const offerBody = struct<OfferBody>([
  ['resources', resources],
  ['prices', resources],
  ['country', c.string],
  ['city', c.string],
  ['attributes', strings(LIMITS.attributes)],
  ['minLease', c.uint],
  ['maxLease', c.uint]
])

export const withdrawBody: c.Encoding<WithdrawBody> = {
  preencode() {},
  encode() {},
  decode() {
    return {}
  }
}

export const bidBody = struct<BidBody>([
  ['resources', resources],
  ['replicas', c.uint],
  ['countries', strings(LIMITS.countries)],
  ['attributes', strings(LIMITS.attributes)],
  ['spread', c.bool],
  ['maxPrice', c.uint],
  ['duration', c.uint],
  ['expiry', c.uint],
  ['exclude', list(keyText, LIMITS.exclude)]
])

export const cancelBody = struct<CancelBody>([['bid', c.string]])
export const settleBody = struct<SettleBody>([
  ['trade', c.string],
  ['contract', fixed32],
  ['manifest', bytes]
])
export const tradeRefBody = struct<TradeRefBody>([
  ['trade', c.string],
  ['reason', c.string]
])
export const depositBody = struct<DepositBody>([
  ['to', fixed32],
  ['amount', c.uint]
])
export const transferBody = struct<TransferBody>([
  ['to', fixed32],
  ['amount', c.uint]
])
const templateFile = struct<TemplateFile>([
  ['path', c.string],
  ['data', bytes]
])
const files = list(templateFile, LIMITS.templateFiles)

/**
 * The last field of a template op or record: its files. Ops and records made
 * before templates carried files end before it, and read as carrying none.
 */
const templateFiles: c.Encoding<TemplateFile[] | undefined> = {
  preencode(state, v) {
    files.preencode(state, v ?? [])
  },
  encode(state, v) {
    files.encode(state, v ?? [])
  },
  decode(state) {
    return state.start === state.end ? [] : files.decode(state)
  }
}

export const templateBody = struct<TemplateBody>([
  ['name', c.string],
  ['version', c.uint],
  ['document', bytes],
  ['files', templateFiles]
])

const GOV_ACTIONS = ['genesis', 'add-indexer', 'remove-indexer'] as const
const genesisFields = struct<{ faucets: Buffer[]; settlementWindow: number; offerTtl: number }>([
  ['faucets', list(fixed32, LIMITS.faucets)],
  ['settlementWindow', c.uint],
  ['offerTtl', c.uint]
])
const indexerFields = struct<{ identity: Buffer; writer: Buffer }>([
  ['identity', fixed32],
  ['writer', fixed32]
])

export const governanceBody: c.Encoding<GovernanceBody> = {
  preencode(state, m) {
    state.end++
    if (m.action === 'genesis') genesisFields.preencode(state, { ...m, offerTtl: m.offerTtl ?? 0 })
    else indexerFields.preencode(state, m)
  },
  encode(state, m) {
    c.uint8.encode(state, GOV_ACTIONS.indexOf(m.action))
    if (m.action === 'genesis') genesisFields.encode(state, { ...m, offerTtl: m.offerTtl ?? 0 })
    else indexerFields.encode(state, m)
  },
  decode(state) {
    const action = GOV_ACTIONS[c.uint8.decode(state)]
    if (action === undefined) throw new Error('unknown governance action')
    if (action === 'genesis') return { action, ...genesisFields.decode(state) }
    return { action, ...indexerFields.decode(state) }
  }
}

// --- view records -----------------------------------------------------------

const BID_STATES: readonly BidState[] = ['open', 'filled', 'expired', 'cancelled']
/** Fixed order: encodings and `Counts.trades` index by it. */
export const TRADE_STATES: readonly TradeState[] = [
  'matched',
  'settled',
  'released',
  'closed',
  'failed',
  'ended'
]

export const offerRecord = struct<Offer>([
  ['node', keyText],
  ['id', c.string],
  ['resources', resources],
  ['available', resources],
  ['prices', resources],
  ['country', c.string],
  ['city', c.string],
  ['attributes', strings(LIMITS.attributes)],
  ['minLease', c.uint],
  ['maxLease', c.uint],
  ['time', c.uint],
  ['renewed', c.uint],
  ['withdrawn', c.bool]
])

export const bidRecord = struct<Bid>([
  ['id', c.string],
  ['bot', keyText],
  ['resources', resources],
  ['replicas', c.uint],
  ['countries', strings(LIMITS.countries)],
  ['attributes', strings(LIMITS.attributes)],
  ['spread', c.bool],
  ['maxPrice', c.uint],
  ['duration', c.uint],
  ['expiry', c.uint],
  ['exclude', list(keyText, LIMITS.exclude)],
  ['time', c.uint],
  ['state', enumOf(BID_STATES)],
  ['trades', strings(LIMITS.replicas)]
])

export const tradeRecord = struct<Trade>([
  ['id', c.string],
  ['bid', c.string],
  ['replica', c.uint],
  ['bot', keyText],
  ['node', keyText],
  ['resources', resources],
  ['price', c.uint],
  ['duration', c.uint],
  ['matchedAt', c.uint],
  ['settleBy', c.uint],
  ['state', enumOf(TRADE_STATES)],
  ['contract', optional(keyText)],
  ['manifest', optional(hexBytes)],
  ['start', optional(c.uint)],
  ['end', optional(c.uint)],
  ['escrow', c.uint],
  ['paid', c.uint],
  ['refunded', c.uint]
])

export const templateRecord = struct<Template>([
  ['name', c.string],
  ['version', c.uint],
  ['document', bytes],
  ['author', keyText],
  ['id', c.string],
  ['time', c.uint],
  ['files', templateFiles]
])

export const outcomeRecord = struct<Outcome>([
  ['id', c.string],
  ['type', c.string],
  ['author', optional(c.string)],
  ['time', c.uint],
  ['accepted', c.bool],
  ['reason', optional(c.string as unknown as c.Encoding<RejectReason>)],
  ['message', optional(c.string)],
  ['trades', strings(1 << 20)]
])

export interface Genesis {
  author: string
  faucets: string[]
  settlementWindow: number
  offerTtl: number
  time: number
}
export const genesisRecord = struct<Genesis>([
  ['author', keyText],
  ['faucets', list(keyText, LIMITS.faucets)],
  ['settlementWindow', c.uint],
  ['offerTtl', c.uint],
  ['time', c.uint]
])

export const uintRecord: c.Encoding<number> = c.uint
/** The market's running totals (market/engine/counts.ts). */
export interface Counts {
  accepted: number
  rejected: number
  offers: number
  openBids: number
  balances: number
  escrow: number
  trades: number[]
  /** Over every trade ever settled: how many, Σ price × duration, paid to nodes, refunded to bots. */
  settled: number
  value: number
  paid: number
  refunded: number
  /** Over the offers not withdrawn: capacity for sale, and what of it no lease holds. */
  capacity: Resources
  free: Resources
}
export const countsRecord = struct<Counts>([
  ['accepted', c.uint],
  ['rejected', c.uint],
  ['offers', c.uint],
  ['openBids', c.uint],
  ['balances', c.uint],
  ['escrow', c.uint],
  ['trades', c.array(c.uint)],
  ['settled', c.uint],
  ['value', c.uint],
  ['paid', c.uint],
  ['refunded', c.uint],
  ['capacity', resources],
  ['free', resources]
])

/** The unit prices (per resource-hour) trades were matched at, of one resource kind in one bucket. */
export interface PricePoints {
  count: number
  min: number
  max: number
  /** [price, trades] by price; prices above 255 kept to 8 significant bits, so a bucket stays small. */
  points: Array<[number, number]>
}
const pricePair: c.Encoding<[number, number]> = {
  preencode(state, [p, n]) {
    c.uint.preencode(state, p)
    c.uint.preencode(state, n)
  },
  encode(state, [p, n]) {
    c.uint.encode(state, p)
    c.uint.encode(state, n)
  },
  decode(state) {
    return [c.uint.decode(state), c.uint.decode(state)]
  }
}
export const pricePoints = struct<PricePoints>([
  ['count', c.uint],
  ['min', c.uint],
  ['max', c.uint],
  ['points', c.array(pricePair)]
])

/** Trades in one minute or hour (`hist/minute/`, `hist/hour/`): matched then, settled then, and at what prices. */
export interface Flows {
  matched: number
  settled: number
  /** Σ price × duration of the trades settled. */
  value: number
  /** By RESOURCE_KINDS index: the trades that bought some of that kind. */
  prices: PricePoints[]
}
export const flowsRecord = struct<Flows>([
  ['matched', c.uint],
  ['settled', c.uint],
  ['value', c.uint],
  ['prices', c.array(pricePoints)]
])

/** The market at the end of an hour in which an op was applied (`hist/gauge/`), from the running totals. */
export interface Gauges {
  offers: number
  leases: number
  capacity: Resources
  free: Resources
}
export const gaugesRecord = struct<Gauges>([
  ['offers', c.uint],
  ['leases', c.uint],
  ['capacity', resources],
  ['free', resources]
])

export function encode<T>(enc: c.Encoding<T>, v: T): Buffer {
  return c.encode(enc, v)
}
export function decode<T>(enc: c.Encoding<T>, buf: Uint8Array): T {
  return decodeExact(enc, buf)
}
