/**
 * Balances, escrow and the life of a trade (docs/ARCHITECTURE.md "Settlement"). Money enters only by a
 * faucet's `deposit`: at every op Σ balance/* + Σ trade.escrow = meta/minted. Pay is computed from the
 * lease start each time, so claims in small steps sum to what one claim at the end would pay.
 */
import { encodeKey } from '../../lib/keys'
import * as K from './keys'
import { uintRecord, keyString } from '../messages'
import type { Trade, SettleBody, TradeRefBody, DepositBody, TransferBody } from '../types'
import { Ctx, reject } from './context'
import { getTrade, putTrade, getBalance, setBalance, credit } from './records'
import { freeCapacity } from './book'
import { leaseCost } from './price'

async function ownTrade(ctx: Ctx, id: string, role: 'bot' | 'node'): Promise<Trade> {
  const trade = await getTrade(ctx.tx, id)
  if (trade === null) reject('not-found', `no trade ${id}`)
  if (trade[role] !== ctx.author)
    reject('not-owner', `trade ${id} belongs to ${role} ${trade[role]}`)
  return trade
}

export async function handleSettle(ctx: Ctx, body: SettleBody): Promise<void> {
  const trade = await ownTrade(ctx, body.trade, 'bot')
  if (trade.state !== 'matched')
    reject('bad-state', `trade ${trade.id} is ${trade.state}, only a matched trade can be settled`)
  const escrow = leaseCost(trade.price, trade.duration)
  const have = await getBalance(ctx.tx, ctx.author)
  if (have < escrow)
    reject('insufficient-funds', `settling ${trade.id} needs ${escrow}, the balance is ${have}`)
  setBalance(ctx.tx, ctx.author, have - escrow)
  const end = ctx.now + trade.duration
  if (!Number.isSafeInteger(end)) reject('overflow', 'lease end is out of range')
  ctx.tx.put(K.due(end, 'end', trade.id), K.MARK) // its release deadline stays, and then finds it settled
  putTrade(ctx.tx, trade, {
    ...trade,
    state: 'settled',
    contract: encodeKey(body.contract),
    manifest: body.manifest.toString('hex'),
    start: ctx.now,
    end,
    escrow
  })
}

/** The node's pay for the lease up to `at`, not yet paid out. */
function earned(trade: Trade, at: number): number {
  const start = trade.start ?? at
  const elapsed = Math.max(0, Math.min(at, trade.end ?? at) - start)
  return Math.min(trade.escrow, leaseCost(trade.price, elapsed) - trade.paid)
}

export async function handleClaim(ctx: Ctx, body: TradeRefBody): Promise<void> {
  const trade = await ownTrade(ctx, body.trade, 'node')
  if (trade.state !== 'settled')
    reject(
      'bad-state',
      `trade ${trade.id} is ${trade.state}, only a running lease has a payout to claim`
    )
  const pay = earned(trade, ctx.now)
  await credit(ctx.tx, trade.node, pay)
  putTrade(ctx.tx, trade, { ...trade, escrow: trade.escrow - pay, paid: trade.paid + pay })
}

/** `close` and `fail`: the bot ends a lease early; the node keeps what it earned, the rest goes back. */
export async function handleStop(
  ctx: Ctx,
  body: TradeRefBody,
  state: 'closed' | 'failed'
): Promise<void> {
  const trade = await ownTrade(ctx, body.trade, 'bot')
  if (trade.state === 'matched') {
    // Never settled: no money moved, the capacity just goes back.
    putTrade(ctx.tx, trade, { ...trade, state, end: ctx.now })
    await freeCapacity(ctx, trade)
    return
  }
  if (trade.state !== 'settled')
    reject('bad-state', `trade ${trade.id} is ${trade.state}, it cannot be ${state}`)
  const pay = earned(trade, ctx.now)
  const refund = trade.escrow - pay
  await credit(ctx.tx, trade.node, pay)
  await credit(ctx.tx, trade.bot, refund)
  putTrade(ctx.tx, trade, {
    ...trade,
    state,
    end: ctx.now,
    escrow: 0,
    paid: trade.paid + pay,
    refunded: trade.refunded + refund
  })
  await freeCapacity(ctx, trade)
}

/** Due: an unsettled trade past its settlement window goes back to the book. */
export async function releaseTrade(ctx: Ctx, id: string): Promise<void> {
  const trade = await getTrade(ctx.tx, id)
  if (trade === null || trade.state !== 'matched') return
  putTrade(ctx.tx, trade, { ...trade, state: 'released' })
  await freeCapacity(ctx, trade)
}

/** Due: a lease that ran its full term pays the node the rest of its escrow. */
export async function endLease(ctx: Ctx, id: string): Promise<void> {
  const trade = await getTrade(ctx.tx, id)
  if (trade === null || trade.state !== 'settled') return
  await credit(ctx.tx, trade.node, trade.escrow)
  putTrade(ctx.tx, trade, { ...trade, state: 'ended', escrow: 0, paid: trade.paid + trade.escrow })
  await freeCapacity(ctx, trade)
}

export async function handleDeposit(ctx: Ctx, body: DepositBody): Promise<void> {
  if (!ctx.genesis.faucets.includes(ctx.author))
    reject('not-faucet', `${ctx.author} is not a faucet of this market`)
  const minted = (await ctx.tx.read(uintRecord, K.META_MINTED)) ?? 0
  if (!Number.isSafeInteger(minted + body.amount))
    reject('overflow', 'the money supply would pass 2^53')
  ctx.tx.write(uintRecord, K.META_MINTED, minted + body.amount)
  await credit(ctx.tx, keyString(body.to), body.amount)
}

export async function handleTransfer(ctx: Ctx, body: TransferBody): Promise<void> {
  const have = await getBalance(ctx.tx, ctx.author)
  if (have < body.amount)
    reject('insufficient-funds', `transfer of ${body.amount} needs more than the balance ${have}`)
  setBalance(ctx.tx, ctx.author, have - body.amount)
  await credit(ctx.tx, keyString(body.to), body.amount)
}
