/**
 * Where a restarted client resumes its envelope seq: a reused seq is refused as a replay, so it resumes above both
 * what the view applied and what this peer sent that the view may not show yet.
 */
import c from 'compact-encoding'
import b4a from 'b4a'
import { envelopeEncoding } from '../lib/envelope'
import { encodeKey } from '../lib/keys'
import * as K from './engine/keys'
import { decode, uintRecord } from './messages'
import { decodeBlock } from './block'
import type { LocalWriter } from 'autobase'
import type { MarketLedger } from './types'

/** Only the last few blocks matter, but indexers' acks sit between them. */
const SCAN_BACK = 4096

export async function lastSeq(ledger: MarketLedger, author: Buffer): Promise<number> {
  const [inView, sent] = await Promise.all([
    lastSeqInView(ledger, author),
    ledger.lastSeqSent(author)
  ])
  return Math.max(inView, sent)
}

export async function lastSeqInView(ledger: MarketLedger, author: Buffer): Promise<number> {
  const entry = await ledger.view.get(K.seq(encodeKey(author)))
  return entry === null ? 0 : decode(uintRecord, entry.value)
}

export async function lastSeqInCore(core: LocalWriter, author: Buffer): Promise<number> {
  const stop = Math.max(0, core.length - SCAN_BACK)
  for (let i = core.length - 1; i >= stop; i--) {
    const entry = await core.get(i, { wait: false })
    const value = entry?.node.value
    if (!value) continue
    const envelopes = decodeBlock(value)
    if (envelopes === null) continue
    let max = 0
    for (const e of envelopes) {
      try {
        const env = c.decode(envelopeEncoding, e)
        if (b4a.equals(env.author, author)) max = Math.max(max, env.seq)
      } catch {
        // not an envelope: carries no seq of this author
      }
    }
    // Blocks are appended in seq order.
    if (max > 0) return max
  }
  return 0
}
