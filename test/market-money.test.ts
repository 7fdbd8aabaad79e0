import test from 'brittle'
import b4a from 'b4a'
import { costFor } from '../lib/resources'
import * as Q from '../market/queries'
import { Market, Actor, offerBody, bidBody, resources, HOUR } from './helpers/market'

const contract = b4a.alloc(32, 7)
const manifest = b4a.alloc(32, 9)

/** A market with one node (default offer) and one funded bot holding one matched trade at 120/h for `hours`. */
async function leased(
  hours = 10,
  funds = 10_000
): Promise<{ m: Market; node: Actor; bot: Actor; trade: string }> {
  const m = await Market.create()
  const node = new Actor('node')
  const bot = new Actor('bot')
  await m.fund(bot, funds)
  await m.send(node, 'offer', offerBody())
  const r = await m.send(bot, 'bid', bidBody({ duration: hours * HOUR }))
  return { m, node, bot, trade: r.outcome.trades[0] }
}

test('settle moves escrow from the bot into the trade and starts the lease', async (t) => {
  const { m, bot, trade } = await leased()
  const r = await m.send(bot, 'settle', { trade, contract, manifest })
  t.ok(r.outcome.accepted)
  const tr = await Q.getTrade(m.view, trade)
  t.is(tr?.state, 'settled')
  t.is(tr?.escrow, 1200)
  t.is(tr?.start, m.clock)
  t.is(tr?.end, m.clock + 10 * HOUR)
  t.is(tr?.manifest, manifest.toString('hex'))
  t.ok(tr?.contract !== null)
  t.is(await m.balance(bot), 10_000 - 1200)
})

test('settle without the funds is insufficient-funds and changes nothing', async (t) => {
  const { m, bot, trade } = await leased(10, 1199)
  const before = m.view.dump()
  const r = await m.send(bot, 'settle', { trade, contract, manifest })
  t.is(r.outcome.reason, 'insufficient-funds')
  t.is((await Q.getTrade(m.view, trade))?.state, 'matched')
  t.is(await m.balance(bot), 1199)
  t.ok(
    m.view.size > 0 && before.byteLength < m.view.dump().byteLength,
    'only the rejection was recorded'
  )
})

test('an unsettled trade is released after the settlement window and its capacity returns', async (t) => {
  const { m, node, bot, trade } = await leased()
  const tr = await Q.getTrade(m.view, trade)
  const late = await m.send(
    bot,
    'settle',
    { trade, contract, manifest },
    { at: (tr?.settleBy ?? 0) + 1 }
  )
  t.is(late.outcome.reason, 'bad-state', 'too late to settle')
  // The rejected op did not move time: the next accepted op releases the trade.
  t.is((await Q.getTrade(m.view, trade))?.state, 'matched')
  await m.send(node, 'offer-update', offerBody())
  t.is((await Q.getTrade(m.view, trade))?.state, 'released')
  t.alike((await Q.getOffer(m.view, node.key))?.available, offerBody().resources)
  t.is(await m.balance(bot), 10_000, 'no money moved')
})

test('settling exactly at settleBy is in time', async (t) => {
  const { m, bot, trade } = await leased()
  const tr = await Q.getTrade(m.view, trade)
  const r = await m.send(bot, 'settle', { trade, contract, manifest }, { at: tr?.settleBy })
  t.ok(r.outcome.accepted)
})

test('claims pay the node pro-rata and sum exactly to the full lease', async (t) => {
  const { m, node, bot, trade } = await leased(10)
  await m.send(bot, 'settle', { trade, contract, manifest })
  const start = m.clock
  let paid = 0
  for (const at of [1, 1000, 1_800_000, 3 * HOUR + 7, 9 * HOUR]) {
    const r = await m.send(node, 'claim', { trade, reason: '' }, { at: start + at })
    t.ok(r.outcome.accepted)
    const tr = await Q.getTrade(m.view, trade)
    t.is(tr?.paid, costFor(120, at), `paid for ${at} ms`)
    paid = tr?.paid ?? 0
  }
  t.is(await m.balance(node), paid)
  await m.send(bot, 'transfer', { to: node.publicKey, amount: 1 }, { at: start + 10 * HOUR })
  const tr = await Q.getTrade(m.view, trade)
  t.is(tr?.state, 'ended', 'the lease ended at its term')
  t.is(tr?.paid, 1200)
  t.is(tr?.escrow, 0)
  t.is(await m.balance(node), 1200 + 1)
  t.is(await m.balance(bot), 10_000 - 1200 - 1)
  t.alike((await Q.getOffer(m.view, node.key))?.available, offerBody().resources, 'capacity freed')
})

test('close pays elapsed time and refunds the rest to the bot', async (t) => {
  const { m, node, bot, trade } = await leased(10)
  await m.send(bot, 'settle', { trade, contract, manifest })
  const start = m.clock
  await m.send(node, 'claim', { trade, reason: '' }, { at: start + HOUR })
  const r = await m.send(bot, 'close', { trade, reason: 'done' }, { at: start + 2.5 * HOUR })
  t.ok(r.outcome.accepted)
  const tr = await Q.getTrade(m.view, trade)
  t.is(tr?.state, 'closed')
  t.is(tr?.paid, 300)
  t.is(tr?.refunded, 900)
  t.is(tr?.escrow, 0)
  t.is(tr?.end, start + 2.5 * HOUR)
  t.is(await m.balance(node), 300)
  t.is(await m.balance(bot), 10_000 - 300)
  t.alike((await Q.getOffer(m.view, node.key))?.available, offerBody().resources)
  const after = await m.send(node, 'claim', { trade, reason: '' })
  t.is(after.outcome.reason, 'bad-state', 'nothing left to claim')
})

test('fail refunds the unused part like close and marks the lease failed', async (t) => {
  const { m, node, bot, trade } = await leased(4)
  await m.send(bot, 'settle', { trade, contract, manifest })
  const start = m.clock
  const r = await m.send(bot, 'fail', { trade, reason: 'node gone' }, { at: start + HOUR + 1 })
  t.ok(r.outcome.accepted)
  const tr = await Q.getTrade(m.view, trade)
  t.is(tr?.state, 'failed')
  t.is(tr?.paid, costFor(120, HOUR + 1))
  t.is(tr?.paid, 121, 'a started unit is paid')
  t.is(tr?.refunded, 480 - 121)
  t.is((await m.balance(node)) + (await m.balance(bot)), 10_000)
})

test('freed capacity fills a resting bid', async (t) => {
  const m = await Market.create()
  const node = new Actor('node')
  const bot = new Actor('bot')
  await m.fund(bot, 10_000)
  await m.send(node, 'offer', offerBody({ resources: resources({ cpu: 1000, memory: 2 ** 31 }) }))
  const first = await m.send(bot, 'bid', bidBody())
  const waiting = await m.send(bot, 'bid', bidBody())
  t.alike(waiting.outcome.trades, [])
  await m.send(bot, 'settle', { trade: first.outcome.trades[0], contract, manifest })
  const c = await m.send(bot, 'close', { trade: first.outcome.trades[0], reason: '' })
  t.alike(c.outcome.trades, [`${waiting.id}.0`], 'the close op filled the resting bid')
})

test('closing a trade that was never settled just frees capacity', async (t) => {
  const { m, node, bot, trade } = await leased()
  const r = await m.send(bot, 'close', { trade, reason: 'changed my mind' })
  t.ok(r.outcome.accepted)
  t.is((await Q.getTrade(m.view, trade))?.state, 'closed')
  t.alike((await Q.getOffer(m.view, node.key))?.available, offerBody().resources)
  t.is(await m.balance(bot), 10_000)
})

test('deposit mints from a faucet only; transfer moves, never overspends', async (t) => {
  const m = await Market.create()
  const a = new Actor('a')
  const b = new Actor('b')
  const d = await m.send(m.faucet, 'deposit', { to: a.publicKey, amount: 500 })
  t.ok(d.outcome.accepted)
  const nf = await m.send(a, 'deposit', { to: a.publicKey, amount: 500 })
  t.is(nf.outcome.reason, 'not-faucet')
  const tr = await m.send(a, 'transfer', { to: b.publicKey, amount: 200 })
  t.ok(tr.outcome.accepted)
  const over = await m.send(a, 'transfer', { to: b.publicKey, amount: 301 })
  t.is(over.outcome.reason, 'insufficient-funds')
  t.is(await m.balance(a), 300)
  t.is(await m.balance(b), 200)
  const s = await Q.stats(m.view)
  t.is(s.minted, 500)
  t.alike((await Q.listBalances(m.view)).map((x) => x.balance).sort(), [200, 300])
})

test('money is conserved through a long mixed sequence', async (t) => {
  const m = await Market.create({ settlementWindow: 10 * 60_000 })
  const nodes = [new Actor('n1'), new Actor('n2'), new Actor('n3')]
  const bots = [new Actor('b1'), new Actor('b2')]
  for (const b of bots) await m.fund(b, 5_000)
  for (const [i, n] of nodes.entries())
    await m.send(n, 'offer', offerBody({ prices: resources({ cpu: 50 + 25 * i, memory: 7 }) }))
  const trades: string[] = []
  for (let i = 0; i < 12; i++) {
    const bot = bots[i % 2]
    const r = await m.send(
      bot,
      'bid',
      bidBody({ replicas: 1 + (i % 3), duration: (1 + i) * 977_000 })
    )
    for (const id of r.outcome.trades) {
      trades.push(id)
      if (i % 4 !== 3) await m.send(bot, 'settle', { trade: id, contract, manifest })
    }
    m.advance(1_234_567)
    const tr = trades[(i * 7) % trades.length]
    const t1 = await Q.getTrade(m.view, tr)
    if (t1 !== null) {
      const who = nodes.find((n) => n.key === t1.node) ?? nodes[0]
      await m.send(who, 'claim', { trade: tr, reason: '' })
      if (i % 3 === 0)
        await m.send(
          bots.find((b) => b.key === t1.bot) ?? bots[0],
          i % 2 === 0 ? 'close' : 'fail',
          { trade: tr, reason: '' }
        )
    }
  }
  m.advance(100 * HOUR)
  await m.send(m.faucet, 'deposit', { to: bots[0].publicKey, amount: 1 })
  const s = await Q.stats(m.view)
  t.is(s.escrow, 0, 'every lease is over: no escrow left')
  t.is(s.balances, s.minted)
  t.is(s.minted, 10_001)
  t.ok(m.checks > 40, `invariants checked after each of ${m.checks} ops`)
})
