/** Test helpers for the market ledger: real peers on a local testnet (127.0.0.1). */
import type { Assert } from 'brittle'
import b4a from 'b4a'
import type { Testnet } from '../../lib/testnet'
import { generateKeyPair, KeyPair } from '../../lib/identity'
import { resources, GiB } from '../../lib/resources'
import { MarketPeer, MarketPeerOptions } from '../../market/peer'
import type { OfferBody, BidBody, OpRequest, Outcome, View } from '../../market/types'
import { swarm } from './net'
import { seal, envelopeId, TypeName } from '../../lib/envelope'
import { encodeBody } from '../../market/engine/ops'

export interface PeerOptions extends Partial<MarketPeerOptions> {
  /** Reuse a data directory (a restart); a fresh one otherwise. */
  data?: string
}

/**
 * A market peer with its own swarm and data dir. Closed at teardown before
 * its swarm, which is destroyed before the testnet.
 */
export async function peer(t: Assert, net: Testnet, opts: PeerOptions = {}): Promise<MarketPeer> {
  const s = swarm(t, net)
  const p = new MarketPeer({
    data: opts.data ?? (await t.tmp()),
    identity: opts.identity === undefined ? generateKeyPair() : opts.identity,
    swarm: s,
    ackInterval: 20,
    ...opts
  })
  t.teardown(() => p.close(), { order: -1 })
  await p.ready()
  return p
}

/** A new market, created by a fresh identity that is also its only faucet. */
export async function market(
  t: Assert,
  net: Testnet,
  opts: PeerOptions & { offerTtl?: number; settlementWindow?: number } = {}
): Promise<MarketPeer> {
  const { offerTtl, settlementWindow = 10 * 60_000, ...rest } = opts
  const identity = opts.identity ?? generateKeyPair()
  return peer(t, net, {
    identity,
    genesis: { faucets: [identity.publicKey], settlementWindow, offerTtl },
    ...rest
  })
}

/** Resolve once `p` sees an offer of `node` (a node key as text). */
export async function offered(p: MarketPeer, node: string): Promise<void> {
  await until(p, async () => (await p.client.offer(node)) !== null)
}

/** Resolve once `fn` holds, re-checking on every market update of `p`. No sleeps: it waits on events. */
export async function until(p: MarketPeer, fn: () => Promise<boolean>): Promise<void> {
  if (await fn()) return
  await new Promise<void>((resolve, reject) => {
    let busy = false
    let again = false
    const check = (): void => {
      if (busy) {
        again = true
        return
      }
      busy = true
      fn().then(
        (ok) => {
          busy = false
          if (ok) {
            p.client.off('update', check)
            resolve()
            return
          }
          if (again) {
            again = false
            check()
          }
        },
        (err) => {
          p.client.off('update', check)
          reject(err)
        }
      )
    }
    p.client.on('update', check)
    check()
  })
}

/** The final (indexed) part of a peer's view, read-only; closed by `fn`'s end. */
export { withFinal } from '../../market/audit'

/** Every key and value of a view range, as text: compares two peers' views exactly. */
export async function dump(view: View, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for await (const { key, value } of view.range({ gte: prefix, lt: prefix + '\xff' }))
    out.push(`${key}=${b4a.toString(value, 'hex')}`)
  return out
}

export function offerOp(
  opts: { cpu?: number; memory?: number; price?: number; country?: string } = {}
): OpRequest {
  const body: OfferBody = {
    resources: resources({ cpu: opts.cpu ?? 4000, memory: opts.memory ?? 8 * GiB }),
    prices: resources({ cpu: opts.price ?? 10, memory: 1 }),
    country: opts.country ?? 'CH',
    city: 'Zurich',
    attributes: ['ssd'],
    minLease: 0,
    maxLease: 30 * 24 * 3600_000
  }
  return { type: 'offer', body }
}

export function bidOp(
  opts: {
    cpu?: number
    memory?: number
    replicas?: number
    maxPrice?: number
    expiry?: number
  } = {}
): OpRequest {
  const body: BidBody = {
    resources: resources({ cpu: opts.cpu ?? 1000, memory: opts.memory ?? GiB }),
    replicas: opts.replicas ?? 1,
    countries: [],
    attributes: [],
    spread: false,
    maxPrice: opts.maxPrice ?? 1_000_000,
    duration: 3600_000,
    expiry: opts.expiry ?? Date.now() + 3600_000,
    exclude: []
  }
  return { type: 'bid', body }
}

export function keyPairs(n: number): KeyPair[] {
  return Array.from({ length: n }, () => generateKeyPair())
}

/** untilIndexer(p); addIndexer(voters, joiner): votes by a majority of current indexers, then waits until the joiner indexes. */
export { untilIndexer, addIndexer } from '../../market/indexers'

/** The keys and open bids a steady market keeps across history() calls. */
export interface Steady {
  nodes: KeyPair[]
  bots: KeyPair[]
  offered: Set<KeyPair>
  open: { bot: KeyPair; id: string }[]
}

/** A market whose live state stays bounded as it grows: `nodes` re-pricing their offers, `bots` bidding and cancelling. */
export function steady(nodes = 200, bots = 20): Steady {
  return { nodes: keyPairs(nodes), bots: keyPairs(bots), offered: new Set(), open: [] }
}

const seqs = new WeakMap<KeyPair, number>()

/**
 * Grow a market by `n` ops fast, sealed here and appended by `indexer` in large blocks; resolves when they are
 * final there. Without `market`: offers from fresh node keys and resting bids from a few bots (live state grows
 * with history). With a steady market: its nodes update their offers and its bots cancel their oldest bid once
 * 100 rest, so history grows and live state does not. Returns the last op's id.
 */
export async function history(indexer: MarketPeer, n: number, market?: Steady): Promise<string> {
  const bots = market?.bots ?? keyPairs(4)
  const envelopes: Buffer[] = []
  const push = sealer(envelopes)
  for (let i = 0; i < n; i++) {
    // Offers nobody buys (no node runs them) and bids for more than any offer has: both rest in the book.
    const offer = offerOp({ price: 1_000_000 + (i % 7) })
    if (i % 2 === 0 && market === undefined) push(generateKeyPair(), offer)
    else if (i % 2 === 0 && market !== undefined) {
      const node = market.nodes[(i / 2) % market.nodes.length]
      const known = market.offered.has(node)
      market.offered.add(node)
      push(node, known ? { type: 'offer-update', body: offer.body } : offer)
    } else if (market !== undefined && market.open.length >= 100) {
      const { bot, id } = market.open.shift()!
      push(bot, { type: 'cancel', body: { bid: id } })
    } else {
      const bot = bots[i % bots.length]
      const id = push(bot, bidOp({ cpu: 64_000 }))
      market?.open.push({ bot, id })
    }
  }
  return (await appendFinal(indexer, envelopes)).id
}

/** Seals ops into `envelopes`, each with its author's next seq (kept across calls); returns each op's id. */
export function sealer(envelopes: Buffer[]): (author: KeyPair, op: OpRequest) => string {
  return (author, op) => {
    const seq = (seqs.get(author) ?? 0) + 1
    seqs.set(author, seq)
    const e = seal(author, {
      type: op.type as TypeName,
      seq,
      timestamp: Date.now(),
      body: encodeBody(op.type as never, op.body as never)
    })
    envelopes.push(e)
    return envelopeId(e)
  }
}

/** Appends sealed ops in large blocks, as an indexer takes them; resolves with the last one's final outcome. */
export async function appendFinal(
  indexer: MarketPeer,
  envelopes: Buffer[],
  timeout = 120_000
): Promise<Outcome> {
  for (let i = 0; i < envelopes.length; i += 1000)
    await indexer.full.append(envelopes.slice(i, i + 1000))
  const last = envelopeId(envelopes[envelopes.length - 1])
  return indexer.client.outcome(last, { final: true, timeout })
}
