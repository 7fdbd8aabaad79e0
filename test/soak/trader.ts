/**
 * The soak's trading load, its own process (a follower, ops through the relays, like a bot): phantom sellers in
 * FR re-pricing their offers and claiming their pay, buyers bidding for them, cancelling, settling, closing and
 * transferring money between each other. Nobody runs what it buys: the money and capacity paths are what it
 * exercises. Its offers are priced above every example's budget and carry an attribute no template asks for, so
 * the bots never buy them. Killed and restarted like any peer: its keys are kept in its data dir.
 *
 *   env SCIT_SOAK_TRADER={"data": DIR, "market": KEY, "bootstrap": "host:port,…"}
 */
import fs from 'fs'
import path from 'path'
import { generateKeyPair, loadIdentity, KeyPair } from '../../lib/identity'
import { seal, envelopeId, TypeName } from '../../lib/envelope'
import { decodeKey, encodeKey } from '../../lib/keys'
import { parseBootstrap } from '../../lib/config'
import { resources, GiB, MiB } from '../../lib/resources'
import { encodeBody } from '../../market/engine/ops'
import { MarketPeer } from '../../market/peer'
import { lastSeq } from '../../market/seq'
import type { OpRequest } from '../../market/types'
import { Random } from './random'
import safetyCatch from 'safety-catch'

interface Config {
  data: string
  market: string
  bootstrap: string
}

const PHANTOM = 'phantom'

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env.SCIT_SOAK_TRADER ?? '{}') as Config
  const main = loadIdentity(cfg.data)
  const keys = keysIn(cfg.data)
  const buyers = [main, ...keys.buyers]
  const peer = new MarketPeer({
    data: cfg.data,
    identity: main,
    market: decodeKey(cfg.market, 'market'),
    bootstrap: parseBootstrap(cfg.bootstrap),
    follow: true,
    joinTimeout: 120_000
  })
  await peer.ready()
  const client = peer.client
  const seqs = new Map<KeyPair, number>()
  for (const kp of [...buyers, ...keys.sellers])
    seqs.set(kp, await lastSeq(peer.ledger, kp.publicKey))
  const send = async (author: KeyPair, op: OpRequest): Promise<string> => {
    const seq = (seqs.get(author) ?? 0) + 1
    seqs.set(author, seq)
    const e = seal(author, {
      type: op.type as TypeName,
      seq,
      timestamp: Date.now(),
      body: encodeBody(op.type as never, op.body as never)
    })
    await peer.ledger.append([e])
    return envelopeId(e)
  }
  process.stdout.write(`trader ready ${encodeKey(main.publicKey)}\n`)
  const r = new Random(Date.now())
  const stop = new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve)
    process.once('SIGINT', resolve)
  })
  let stopping = false
  stop.then(() => (stopping = true), safetyCatch)
  const ops: Record<string, number> = {}
  while (!stopping) {
    const kind = await act(r, client, send, buyers, keys.sellers).catch(
      (err: Error) => `error ${err.message.slice(0, 60)}`
    )
    ops[kind] = (ops[kind] ?? 0) + 1
    if (r.chance(0.05)) process.stderr.write(`trader ${JSON.stringify(ops)}\n`)
    await Promise.race([stop, new Promise((resolve) => setTimeout(resolve, r.int(300, 1200)))])
  }
  await peer.close()
}

type Send = (author: KeyPair, op: OpRequest) => Promise<string>

/** One action, chosen by what the market shows; returns its name. */
async function act(
  r: Random,
  client: MarketPeer['client'],
  send: Send,
  buyers: KeyPair[],
  sellers: KeyPair[]
): Promise<string> {
  const seller = r.pick(sellers)
  const buyer = r.pick(buyers)
  const x = r.next()
  if (x < 0.2) {
    const known = (await client.offer(encodeKey(seller.publicKey))) !== null
    const body = {
      resources: resources({ cpu: 4000, memory: 8 * GiB }),
      prices: resources({ cpu: r.int(100, 130), memory: r.int(10, 15) }),
      country: 'FR',
      city: 'Paris',
      attributes: [PHANTOM],
      minLease: 0,
      maxLease: 24 * 3600_000
    }
    await send(seller, { type: known ? 'offer-update' : 'offer', body })
    return known ? 'reprice' : 'offer'
  }
  if (x < 0.45) {
    await send(buyer, {
      type: 'bid',
      body: {
        resources: resources({ cpu: 250, memory: 128 * MiB }),
        replicas: r.int(1, 2),
        countries: ['FR'],
        attributes: [PHANTOM],
        spread: false,
        maxPrice: 1000,
        duration: 10 * 60_000,
        expiry: Date.now() + r.int(5000, 30_000),
        exclude: []
      }
    })
    return 'bid'
  }
  const mine = encodeKey(buyer.publicKey)
  if (x < 0.55) {
    const open = await client.bids({ bot: mine, state: 'open' })
    if (open.length === 0) return 'idle'
    await send(buyer, { type: 'cancel', body: { bid: r.pick(open).id } })
    return 'cancel'
  }
  if (x < 0.75) {
    const matched = await client.trades({ bot: mine, state: 'matched' })
    if (matched.length === 0) return 'idle'
    await send(buyer, {
      type: 'settle',
      body: {
        trade: r.pick(matched).id,
        contract: generateKeyPair().publicKey,
        manifest: generateKeyPair().publicKey
      }
    })
    return 'settle'
  }
  if (x < 0.85) {
    const settled = await client.trades({ bot: mine, state: 'settled' })
    if (settled.length === 0) return 'idle'
    await send(buyer, {
      type: 'close',
      body: { trade: r.pick(settled).id, reason: 'soak: done with it' }
    })
    return 'close'
  }
  if (x < 0.93) {
    const settled = await client.trades({ node: encodeKey(seller.publicKey), state: 'settled' })
    if (settled.length === 0) return 'idle'
    await send(seller, { type: 'claim', body: { trade: r.pick(settled).id, reason: '' } })
    return 'claim'
  }
  const to = r.pick(buyers.filter((b) => b !== buyer))
  if ((await client.balance(mine)) < 1000) return 'idle'
  await send(buyer, { type: 'transfer', body: { to: to.publicKey, amount: r.int(1, 1000) } })
  return 'transfer'
}

/** Three sellers and two more buyers, made once and kept (a restarted trader goes on with the same keys). */
function keysIn(data: string): { sellers: KeyPair[]; buyers: KeyPair[] } {
  const file = path.join(data, 'trader-keys.json')
  if (!fs.existsSync(file)) {
    const make = (n: number): string[] =>
      Array.from({ length: n }, () => generateKeyPair().secretKey.toString('hex'))
    fs.writeFileSync(file + '.tmp', JSON.stringify({ sellers: make(3), buyers: make(2) }), {
      mode: 0o600
    })
    fs.renameSync(file + '.tmp', file)
  }
  const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { sellers: string[]; buyers: string[] }
  const kp = (hex: string): KeyPair => {
    const secretKey = Buffer.from(hex, 'hex')
    return { publicKey: secretKey.subarray(32), secretKey }
  }
  return { sellers: doc.sellers.map(kp), buyers: doc.buyers.map(kp) }
}

main().catch((err) => {
  process.stderr.write(`trader failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
