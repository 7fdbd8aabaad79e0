/**
 * Checks the money invariant Σ balances + Σ escrow = Σ minted (README "Market model") on a snapshot of the final
 * view: a live view may move between two reads.
 */
import type { View } from './types'
import type { MarketPeer } from './peer'
import { HyperbeeView } from './hyperbee-view'
import { stats } from './queries'

export async function withFinal<T>(p: MarketPeer, fn: (view: View) => Promise<T>): Promise<T> {
  const snap = p.ledger.finalCheckout()
  try {
    return await fn(HyperbeeView.reading(snap))
  } finally {
    await snap.close()
  }
}

export interface MoneyCheck {
  ok: boolean
  minted: number
  balances: number
  escrow: number
  held: number
}

export async function moneyConserved(p: MarketPeer): Promise<MoneyCheck> {
  const s = await withFinal(p, (view) => stats(view))
  const held = s.balances + s.escrow
  return { ok: held === s.minted, minted: s.minted, balances: s.balances, escrow: s.escrow, held }
}
