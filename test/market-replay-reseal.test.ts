/**
 * One author's ops sent concurrently can reach the indexers out of seq order (the soak's botB: a close and its
 * heal's ops through two relays, one cut): the later seq applied first makes the earlier a replay. The client that
 * sealed it seals it again with a fresh seq (market/client.ts); an op that went in is never sent twice.
 */
import test from 'brittle'
import type { Assert } from 'brittle'
import { generateKeyPair } from '../lib/identity'
import type { KeyPair } from '../lib/identity'
import { encodeKey } from '../lib/keys'
import { seal, envelopeId } from '../lib/envelope'
import { encodeBody } from '../market/engine/ops'
import type { Follower } from '../market/follower'
import type { OpRequest } from '../market/types'
import { testnet } from './helpers/net'
import { market, peer } from './helpers/ledger'

type Relay = (envelopes: Buffer[]) => Promise<boolean>

function deposit(to: Buffer, amount: number): OpRequest {
  return { type: 'deposit', body: { to, amount } }
}

function transfer(to: Buffer, amount: number): OpRequest {
  return { type: 'transfer', body: { to, amount } }
}

/** `fn`, but its first call waits for `release` (a relay cut for that request); the later ones go at once. */
function holdFirst<R>(
  t: Assert,
  fn: (envelopes: Buffer[]) => Promise<R>
): { fn: (envelopes: Buffer[]) => Promise<R>; held: Promise<void>; release: () => void } {
  let release!: () => void
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  let reached!: () => void
  const held = new Promise<void>((resolve) => {
    reached = resolve
  })
  let first = true
  t.teardown(() => release())
  return {
    held,
    release,
    fn: (envelopes) => {
      if (!first) return fn(envelopes)
      first = false
      reached()
      return gate.then(() => fn(envelopes))
    }
  }
}

test('an op whose later seq was applied first is sealed again and accepted: the caller gets its final outcome', async (t) => {
  const net = await testnet(t)
  const founder = await market(t, net)
  const client = founder.client
  const to = generateKeyPair().publicKey
  const { fn, held, release } = holdFirst(t, founder.ledger.append.bind(founder.ledger))
  founder.ledger.append = fn

  const first = client.submit([deposit(to, 5)]) // sealed with seq n, held back
  await held
  const [later] = await client.submit([deposit(to, 7)]) // seq n + 1, applied first
  const b = await client.outcome(later, { final: true })
  t.ok(b.accepted, 'the later op is accepted first')
  release()
  const [earlier] = await first

  // Two waiters on the refused op: one re-seal serves both.
  const [a, again] = await Promise.all([
    client.outcome(earlier, { final: true }),
    client.outcome(earlier, { final: true })
  ])
  t.is(a.reason ?? 'accepted', 'accepted', 'the earlier op ends accepted')
  t.not(a.id, earlier, 'as a new op: the outcome names it')
  t.is(again.id, a.id, 'both waiters follow the same re-sealed op')
  t.is(await client.balance(encodeKey(to)), 12, 'both deposits are in the view, once each')
})

test("a follower's op overtaken through another relay is sealed again; neither it nor its copy stays in the outbox", async (t) => {
  const net = await testnet(t)
  const founder = await market(t, net)
  const bot = await peer(t, net, { market: founder.key, follow: true })
  const me = (bot.identity as KeyPair).publicKey
  t.ok((await founder.client.submitAndWait([deposit(me, 100)]))[0].accepted, 'the bot has funds')
  const to = generateKeyPair().publicKey
  const ledger = bot.ledger as Follower
  const { fn, held, release } = holdFirst(t, ledger.relay as Relay)
  ledger.relay = fn

  const first = bot.client.submit([transfer(to, 5)]) // in the outbox, its relay request held
  await held
  const [later] = await bot.client.submit([transfer(to, 7)])
  t.ok((await bot.client.outcome(later, { final: true })).accepted, 'the later op is final first')
  release()
  const [earlier] = await first
  const a = await bot.client.outcome(earlier, { final: true })
  t.is(a.reason ?? 'accepted', 'accepted', 'the earlier op ends accepted')
  t.not(a.id, earlier, 'as its copy')
  t.is(await bot.client.balance(encodeKey(to)), 12, 'both transfers are in the view, once each')
  await ledger.outbox.check()
  t.alike(ledger.pending(), [], 'the refused op and its copy left the outbox as final')
  t.ok((await ledger.lastSeqSent(me)) <= bot.client.lastSeq, "no seq sent above the client's")
})

test('an op refused as a replay that this client never sealed stays refused, and nothing is sent again', async (t) => {
  const net = await testnet(t)
  const identity = generateKeyPair()
  const founder = await market(t, net, { identity })
  const client = founder.client
  const to = generateKeyPair().publicKey
  const [done] = await client.submitAndWait([deposit(to, 5)])
  t.ok(done.accepted)

  // Another process signing as this identity, reusing a seq the view applied.
  const seq = client.lastSeq
  const stale = seal(identity, {
    type: 'deposit',
    seq,
    timestamp: Date.now(),
    body: encodeBody('deposit', { to, amount: 7 })
  })
  await founder.ledger.append([stale])
  const o = await client.outcome(envelopeId(stale), { final: true })
  t.is(o.reason, 'replay', 'refused as a replay')
  t.is(client.lastSeq, seq, 'no op sealed since')
  t.is(await client.balance(encodeKey(to)), 5, 'its deposit is not in the view')
})
