/**
 * The market engine: `apply(view, op)`, a pure function of the view and one signed op
 * (docs/ARCHITECTURE.md "Engine"): no clock, no randomness, no I/O but the view, so every peer gets the same view.
 * A rejected op writes only rejected/<id> and, once its signature verified, the author's seq
 * (the same bytes can never be accepted later); engine time and deadlines wait for an accepted op.
 */
import { envelopeId, typeName, Envelope } from '../../lib/envelope'
import { openMemo } from './open-memo'
import { isScitError } from '../../lib/errors'
import type { Apply, Outcome, Effects, View, RejectReason } from '../types'
import {
  genesisRecord,
  outcomeRecord,
  uintRecord,
  countsRecord,
  Genesis,
  keyString
} from '../messages'
import { readCounts, countChanges } from './counts'
import { recordHistory } from './history'
import * as K from './keys'
import { Tx } from './tx'
import { Ctx, Reject, reject } from './context'
import { expireBid, retryResting } from './book'
import { releaseTrade, endLease } from './money'
import { handleGenesis } from './governance'
import { MARKET_TYPES, isMarketOp, decodeBody, opEntry, Bodies, MarketOp } from './ops'

export { MARKET_TYPES }

type Result = { outcome: Outcome; effects: Effects | null }

/** Times are ms since 1970; 2^50 leaves room to add any window or lease duration the bodies allow. */
export const MAX_TIME = 2 ** 50

export const apply: Apply = async (view, input) => {
  // Memoised by id: re-applies after an Autobase reorg skip Ed25519 (open-memo.ts explains why this stays pure).
  const id = input.id ?? envelopeId(input.value)
  const opened = openMemo(input.value, id, MARKET_TYPES)
  if (!opened.ok) {
    const op = { view, id, type: 'unknown', author: null, time: await engineTime(view), seq: null }
    return refuse(op, opened.reason, opened.message)
  }
  return applyOpened(view, opened.envelope, opened.id, input.bootstrap)
}

/** What a refusal records of an op: enough to answer its author, never more than its signature vouches for. */
interface Op {
  view: View
  id: string
  type: string
  author: string | null
  /** Engine time before the op. */
  time: number
  /** The author's seq to record; null keeps it usable (the op was not signed, or replayed one). */
  seq: number | null
}

/** `apply` for an envelope whose signature already verified (exported for the benchmark; the ledger calls `apply`). */
export async function applyOpened(
  view: View,
  env: Envelope,
  id: string,
  bootstrap: boolean
): Promise<Result> {
  const author = keyString(env.author)
  const type = typeName(env.type) ?? 'unknown'
  const op: Op = { view, id, type, author, time: await engineTime(view), seq: env.seq }
  const last = uint(await view.get(K.seq(author)))
  if (last !== null && env.seq <= last) return replayed(op, env.seq, last)
  try {
    const body = decodeOp(type, env)
    return await accept(op, author, env, body, bootstrap)
  } catch (err) {
    if (err instanceof Reject) return refuse(op, err.reason, err.message)
    if (isScitError(err, 'OVERFLOW')) return refuse(op, 'overflow', err.message)
    throw err // a bug in the engine, not bad input: surface it
  }
}

/** The same bytes again keep their first outcome; a different op reusing a seq is recorded as refused. */
async function replayed(op: Op, seq: number, last: number): Promise<Result> {
  const { view, id, author } = op
  const seen =
    (await view.get(K.accepted(id))) !== null || (await view.get(K.rejected(id))) !== null
  const message = `seq ${seq} from ${author} is not above ${last}`
  return refuse({ ...op, seq: null }, 'replay', message, seen)
}

type Decoded = { [K in MarketOp]: { type: K; body: Bodies[K] } }[MarketOp]

function decodeOp(type: string, env: Envelope): Decoded {
  if (!isMarketOp(type)) reject('unknown-type', `${type} is not a market op`)
  let body: Bodies[MarketOp]
  try {
    body = decodeBody(type, env.body)
  } catch (err) {
    reject('malformed', `${type} body does not decode: ${(err as Error).message}`)
  }
  if (env.timestamp > MAX_TIME)
    reject(
      'invalid',
      `timestamp ${env.timestamp} is beyond the year 37000: sums of times must stay below 2^53`
    )
  return { type, body } as Decoded
}

/** Its rules, the market's genesis (or this op founds it), what fell due, its handler, then its outcome. */
async function accept(
  op: Op,
  author: string,
  env: Envelope,
  decoded: Decoded,
  bootstrap: boolean
): Promise<Result> {
  const { type, body } = decoded
  const tx = new Tx(op.view)
  const now = Math.max(op.time, env.timestamp)
  opEntry(type).validate(body)
  const stored = await tx.read(genesisRecord, K.META_GENESIS)
  const genesis = stored ?? found(tx, author, now, decoded, bootstrap)
  const ctx: Ctx = {
    tx,
    id: op.id,
    author,
    now,
    since: op.time,
    genesis,
    trades: [],
    priced: [],
    dirty: new Set(),
    effects: null
  }
  await processDue(ctx)
  if (ctx.dirty.size > 0) await retryResting(ctx)
  if (stored !== null) await opEntry(type).handle(ctx, body)
  if (ctx.dirty.size > 0) await retryResting(ctx)
  const outcome: Outcome = {
    id: op.id,
    type,
    author,
    time: now,
    accepted: true,
    reason: null,
    message: null,
    trades: ctx.trades
  }
  tx.write(outcomeRecord, K.accepted(op.id), outcome)
  const counts = await readCounts(tx)
  await recordHistory(tx, counts, op.time, now, ctx.priced)
  counts.accepted++
  await countChanges(tx, counts)
  tx.write(countsRecord, K.META_COUNTS, counts)
  tx.write(uintRecord, K.seq(author), env.seq)
  if (now !== op.time) tx.write(uintRecord, K.META_TIME, now)
  await tx.commit()
  return { outcome, effects: ctx.effects }
}

/** A market without genesis accepts only its genesis op, from its bootstrap writer. */
function found(tx: Tx, author: string, now: number, op: Decoded, bootstrap: boolean): Genesis {
  if (op.type !== 'governance' || op.body.action !== 'genesis')
    reject('no-genesis', 'the market has no genesis op yet: nothing else can be applied')
  if (!bootstrap) reject('invalid', "genesis must come from the market's bootstrap writer")
  return handleGenesis(tx, author, now, op.body)
}

/**
 * Fire deadlines in (since, now], oldest first: each fires once, as engine time only moves forward.
 * Fired keys are never deleted (handlers check the record's state): a delete costs a block like a put.
 */
async function processDue(ctx: Ctx): Promise<void> {
  const since = ctx.since
  if (ctx.now <= since) return
  const due: string[] = []
  for await (const { key } of ctx.tx.range({
    gt: `due/${K.pad(since)}/${K.END}`,
    lte: `due/${K.pad(ctx.now)}/${K.END}`
  }))
    due.push(key)
  for (const key of due) {
    const [, , kind, id] = key.split('/')
    if (kind === 'expire') await expireBid(ctx, id)
    else if (kind === 'release') await releaseTrade(ctx, id)
    else if (kind === 'end') await endLease(ctx, id)
  }
}

async function engineTime(view: View): Promise<number> {
  return uint(await view.get(K.META_TIME)) ?? 0
}

function uint(buf: Buffer | null): number | null {
  return buf === null ? null : uintRecord.decode({ start: 0, end: buf.byteLength, buffer: buf })
}

async function refuse(
  op: Op,
  reason: RejectReason,
  message: string,
  seen = false
): Promise<Result> {
  const { view, id, type, author, time, seq } = op
  const outcome: Outcome = { id, type, author, time, accepted: false, reason, message, trades: [] }
  if (!seen) {
    const tx = new Tx(view)
    tx.write(outcomeRecord, K.rejected(id), outcome)
    const counts = await readCounts(tx)
    counts.rejected++
    tx.write(countsRecord, K.META_COUNTS, counts)
    if (seq !== null && author !== null) tx.write(uintRecord, K.seq(author), seq)
    await tx.commit()
  }
  return { outcome, effects: null }
}
