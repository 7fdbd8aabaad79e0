/**
 * `scit market verify`, for anyone who does not trust the indexers (docs/ARCHITECTURE.md "Scale"): replay every op from
 * genesis with this machine's engine into a view core of its own, and compare it key by key with the signed view.
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import b4a from 'b4a'
import type Hyperbee from 'hyperbee'
import type DHT from 'hyperdht'
import type { Bootstrap } from '../lib/config'
import { ScitError } from '../lib/errors'
import * as K from './engine/keys'
import * as Q from './queries'
import { HyperbeeView } from './hyperbee-view'
import { MarketPeer } from './peer'
import type { Apply } from './types'

export interface VerifyOptions {
  market: Buffer
  bootstrap?: Bootstrap[] | null
  dht?: DHT
  /** The engine to replay with (a test gives a tampered one). */
  apply?: Apply
  timeout?: number
  onprogress?: (p: { replayed: number; ops: number }) => void
}

export interface Divergence {
  key: string
  op: string | null
  signed: string | null
  replayed: string | null
}
export interface VerifyReport {
  ok: boolean
  ops: number
  replayed: number
  keys: number
  divergence: Divergence | null
}

export async function verifyMarket(opts: VerifyOptions): Promise<VerifyReport> {
  const dirs = [
    fs.mkdtempSync(path.join(os.tmpdir(), 'scit-verify-')),
    fs.mkdtempSync(path.join(os.tmpdir(), 'scit-verify-'))
  ]
  const net = {
    market: opts.market,
    identity: null,
    bootstrap: opts.bootstrap ?? null,
    dht: opts.dht,
    announce: false
  }
  const signed = new MarketPeer({ ...net, data: dirs[0], follow: true })
  const replay = new MarketPeer({
    ...net,
    data: dirs[1],
    replay: true,
    relay: false,
    apply: opts.apply
  })
  const deadline = Date.now() + (opts.timeout ?? 10 * 60_000)
  try {
    await Promise.all([signed.ready(), replay.ready()])
    while (true) {
      await replay.full.catchUp(Math.max(1, deadline - Date.now()))
      const mine = replay.ledger.finalCheckout()
      const theirs = signed.ledger.finalCheckout()
      try {
        const [ops, replayed] = await Promise.all([decided(theirs), decided(mine)])
        opts.onprogress?.({ replayed, ops })
        if (replayed === ops) return { ops, replayed, ...(await compare(theirs, mine)) }
        if (replayed > ops) await signed.ledger.catchUp(1000)
      } finally {
        await Promise.all([mine.close(), theirs.close()])
      }
      if (Date.now() > deadline)
        throw new ScitError(
          'TIMEOUT',
          'the replay did not reach the signed view in time (is the market still busy?)'
        )
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  } finally {
    await Promise.allSettled([signed.close(), replay.close()])
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
  }
}

async function decided(view: Hyperbee): Promise<number> {
  const s = await Q.stats(HyperbeeView.reading(view))
  return s.accepted + s.rejected
}

async function compare(
  signed: Hyperbee,
  replayed: Hyperbee
): Promise<{ ok: boolean; keys: number; divergence: Divergence | null }> {
  const a = signed.createReadStream()[Symbol.asyncIterator]()
  const b = replayed.createReadStream()[Symbol.asyncIterator]()
  let x = await a.next()
  let y = await b.next()
  let keys = 0
  while (!x.done || !y.done) {
    const kx = x.done ? null : x.value.key
    const ky = y.done ? null : y.value.key
    if (kx !== null && ky !== null && kx === ky && b4a.equals(x.value.value, y.value.value)) {
      keys++
      x = await a.next()
      y = await b.next()
      continue
    }
    const key = kx === null ? (ky as string) : ky === null ? kx : kx < ky ? kx : ky
    const hex = (r: IteratorResult<{ key: string; value: Buffer }>): string | null =>
      !r.done && r.value.key === key ? b4a.toString(r.value.value, 'hex') : null
    await Promise.all([a.return?.(), b.return?.()])
    return { ok: false, keys, divergence: { key, op: opOf(key), signed: hex(x), replayed: hex(y) } }
  }
  return { ok: true, keys, divergence: null }
}

function opOf(key: string): string | null {
  return key.startsWith('op/') || key.startsWith('rejected/') ? K.tail(key) : null
}
