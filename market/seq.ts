/**
 * Where a restarted client resumes its envelope seq. Seqs must grow per
 * author (lib/envelope), and a reused seq is refused as a replay, so the next
 * seq is above the highest one this identity ever used, which is the max of
 * what the view applied (`seq/<author>`) and what this peer sent but the view
 * may not show yet (`lastSeqSent`: a full peer's writer core and outbox, a
 * follower's outbox).
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

/**
 * How far back the writer core is read. Only blocks the view has not applied
 * matter, and those are the last few; indexers' acks (empty blocks) sit
 * between them, hence more than a handful.
 */
const SCAN_BACK = 4096

export async function lastSeq (ledger: MarketLedger, author: Buffer): Promise<number> {
  const [inView, sent] = await Promise.all([lastSeqInView(ledger, author), ledger.lastSeqSent(author)])
  return Math.max(inView, sent)
}

export async function lastSeqInView (ledger: MarketLedger, author: Buffer): Promise<number> {
  const entry = await ledger.view.get(K.seq(encodeKey(author)))
  return entry === null ? 0 : decode(uintRecord, entry.value)
}

/** The highest seq of `author` in the blocks of a writer core. */
export async function lastSeqInCore (core: LocalWriter, author: Buffer): Promise<number> {
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
    // Blocks are appended in seq order: the newest block carrying this author holds its highest seq.
    if (max > 0) return max
  }
  return 0
}
