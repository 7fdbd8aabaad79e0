/**
 * The market engine: `apply(view, op)`, a pure function of the view and one signed op
 * (ARCHITECTURE §3): no clock, no randomness, no I/O but the view, so every peer gets the same view.
 * A rejected op writes only rejected/<id> and, once its signature verified, the author's seq
 * (the same bytes can never be accepted later); engine time and deadlines wait for an accepted op.
 */
import { envelopeId, typeName, Envelope } from '../../lib/envelope'
import { openMemo } from './verify'
import { encodeKey } from '../../lib/keys'
import { isScitError } from '../../lib/errors'
import type { Apply, Outcome, Effects, View, RejectReason } from '../types'
import { genesisRecord, outcomeRecord, uintRecord, countsRecord } from '../messages'
import { readCounts, countChanges } from './counts'
import * as K from './keys'
import { Tx } from './tx'
import { Ctx, Reject } from './context'
import { expireBid, retryResting } from './book'
import { releaseTrade, endLease } from './money'
import { handleGenesis } from './governance'
import { MARKET_TYPES, isMarketOp, decodeBody, opEntry, Bodies, MarketOp } from './ops'

export { MARKET_TYPES }

type Result = { outcome: Outcome; effects: Effects | null }

/** Times are ms since 1970; 2^50 leaves room to add any window or lease duration the bodies allow. */
export const MAX_TIME = 2 ** 50

export const apply: Apply = async (view, input) => {
  // Memoised by id: re-applies after an Autobase reorg skip Ed25519 (verify.ts explains why this stays pure).
  const id = envelopeId(input.value)
  const opened = openMemo(input.value, id, MARKET_TYPES)
  if (!opened.ok) {
    return refuse(
      view,
      id,
      'unknown',
      null,
      await engineTime(view),
      opened.reason,
      opened.message,
      false
    )
  }
  return applyOpened(view, opened.envelope, opened.id, input.bootstrap)
}

/** `apply` for an envelope whose signature already verified (exported for the benchmark; the ledger calls `apply`). */
export async function applyOpened(
  view: View,
  env: Envelope,
  id: string,
  bootstrap: boolean
): Promise<Result> {
  const type = typeName(env.type) ?? 'unknown'
  const author = encodeKey(env.author)
  const time = uint(await view.get(K.META_TIME)) ?? 0
  const last = uint(await view.get(K.seq(author)))
  if (last !== null) {
    if (env.seq <= last) {
      // The same bytes again keep their first outcome; a different op reusing a seq is recorded as refused.
      const seen =
        (await view.get(K.accepted(id))) !== null || (await view.get(K.rejected(id))) !== null
      return refuse(
        view,
        id,
        type,
        author,
        time,
        'replay',
        `seq ${env.seq} from ${author} is not above ${last}`,
        false,
        seen
      )
    }
  }
  if (!isMarketOp(type))
    return refuse(view, id, type, author, time, 'unknown-type', `${type} is not a market op`, env)

  let body: Bodies[MarketOp]
  try {
    body = decodeBody(type, env.body)
  } catch (err) {
    return refuse(
      view,
      id,
      type,
      author,
      time,
      'malformed',
      `${type} body does not decode: ${(err as Error).message}`,
      env
    )
  }

  if (env.timestamp > MAX_TIME) {
    return refuse(
      view,
      id,
      type,
      author,
      time,
      'invalid',
      `timestamp ${env.timestamp} is beyond the year 37000: sums of times must stay below 2^53`,
      env
    )
  }
  const tx = new Tx(view)
  const now = Math.max(time, env.timestamp)
  try {
    opEntry(type).validate(body)
    let genesis = await tx.read(genesisRecord, K.META_GENESIS)
    const founding = genesis === null
    if (genesis === null) {
      if (type !== 'governance' || (body as Bodies['governance']).action !== 'genesis')
        throw new Reject(
          'no-genesis',
          'the market has no genesis op yet: nothing else can be applied'
        )
      if (!bootstrap)
        throw new Reject('invalid', "genesis must come from the market's bootstrap writer")
      genesis = handleGenesis(
        tx,
        author,
        now,
        body as Extract<Bodies['governance'], { action: 'genesis' }>
      )
    }
    const ctx: Ctx = {
      tx,
      id,
      author,
      now,
      since: time,
      genesis,
      trades: [],
      dirty: new Set(),
      effects: null
    }
    await processDue(ctx)
    if (ctx.dirty.size > 0) await retryResting(ctx)
    if (!founding) await opEntry(type).handle(ctx, body)
    if (ctx.dirty.size > 0) await retryResting(ctx)
    const outcome: Outcome = {
      id,
      type,
      author,
      time: now,
      accepted: true,
      reason: null,
      message: null,
      trades: ctx.trades
    }
    tx.write(outcomeRecord, K.accepted(id), outcome)
    const counts = await readCounts(tx)
    counts.accepted++
    await countChanges(tx, counts)
    tx.write(countsRecord, K.META_COUNTS, counts)
    tx.write(uintRecord, K.seq(author), env.seq)
    if (now !== time) tx.write(uintRecord, K.META_TIME, now)
    await tx.commit()
    return { outcome, effects: ctx.effects }
  } catch (err) {
    if (err instanceof Reject)
      return refuse(view, id, type, author, time, err.reason, err.message, env)
    if (isScitError(err, 'OVERFLOW'))
      return refuse(view, id, type, author, time, 'overflow', err.message, env)
    throw err // a bug in the engine, not bad input: surface it
  }
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
  view: View,
  id: string,
  type: string,
  author: string | null,
  time: number,
  reason: RejectReason,
  message: string,
  env: Envelope | false,
  seen = false
): Promise<Result> {
  const outcome: Outcome = { id, type, author, time, accepted: false, reason, message, trades: [] }
  if (!seen) {
    const tx = new Tx(view)
    tx.write(outcomeRecord, K.rejected(id), outcome)
    const counts = await readCounts(tx)
    counts.rejected++
    tx.write(countsRecord, K.META_COUNTS, counts)
    if (env !== false && author !== null) tx.write(uintRecord, K.seq(author), env.seq)
    await tx.commit()
  }
  return { outcome, effects: null }
}
