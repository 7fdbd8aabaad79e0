import test from 'brittle'
import b4a from 'b4a'
import * as Q from '../market/queries'
import { Market, Actor } from './helpers/market'

const writer = (n: number): Buffer => b4a.alloc(32, n)

test('an indexer is added when a strict majority of current indexers voted for it', async (t) => {
  const m = await Market.create()
  const b = new Actor('b')
  const c = new Actor('c')
  const d = new Actor('d')
  const add = (by: Actor, who: Actor, w: number): ReturnType<Market['send']> =>
    m.send(by, 'governance', { action: 'add-indexer', identity: who.publicKey, writer: writer(w) })

  const one = await add(m.founder, b, 2)
  t.alike(one.effects, { addIndexer: writer(2) }, 'one of one is a majority')
  t.alike((await Q.listIndexers(m.view)).sort(), [m.founder.key, b.key].sort())

  const half = await add(m.founder, c, 3)
  t.ok(half.outcome.accepted)
  t.is(half.effects, null, 'one of two is not a strict majority')
  const other = await add(b, c, 4)
  t.is(other.effects, null, 'a vote for a different writer is a different change')
  const both = await add(b, c, 3)
  t.alike(both.effects, { addIndexer: writer(3) }, 'two of two')
  t.is((await Q.listIndexers(m.view)).length, 3)

  const outsider = await add(d, d, 5)
  t.is(outsider.outcome.reason, 'not-indexer')
  const dup = await add(m.founder, b, 2)
  t.is(dup.outcome.reason, 'bad-state', 'already an indexer')
})

test('an indexer is removed by majority, never the last one', async (t) => {
  const m = await Market.create()
  const b = new Actor('b')
  await m.send(m.founder, 'governance', {
    action: 'add-indexer',
    identity: b.publicKey,
    writer: writer(2)
  })
  const wrong = await m.send(m.founder, 'governance', {
    action: 'remove-indexer',
    identity: b.publicKey,
    writer: writer(9)
  })
  t.is(wrong.outcome.reason, 'invalid', 'the writer must be the one the indexer uses')
  const first = await m.send(m.founder, 'governance', {
    action: 'remove-indexer',
    identity: b.publicKey,
    writer: writer(2)
  })
  t.is(first.effects, null, 'one of two')
  const second = await m.send(b, 'governance', {
    action: 'remove-indexer',
    identity: b.publicKey,
    writer: writer(2)
  })
  t.alike(second.effects, { removeIndexer: writer(2) })
  t.alike(await Q.listIndexers(m.view), [m.founder.key])
  const last = await m.send(m.founder, 'governance', {
    action: 'remove-indexer',
    identity: m.founder.publicKey,
    writer: writer(1)
  })
  t.is(last.outcome.reason, 'invalid', 'the last indexer stays')
  const gone = await m.send(m.founder, 'governance', {
    action: 'remove-indexer',
    identity: b.publicKey,
    writer: writer(2)
  })
  t.is(gone.outcome.reason, 'not-found')
})

test('templates: versions grow per name, and a name belongs to its first publisher', async (t) => {
  const m = await Market.create()
  const expert = new Actor('expert')
  const rival = new Actor('rival')
  const doc = (s: string): Buffer => b4a.from(s)
  t.ok(
    (await m.send(expert, 'template', { name: 'crm', version: 1, document: doc('v1') })).outcome
      .accepted
  )
  t.ok(
    (await m.send(expert, 'template', { name: 'crm', version: 3, document: doc('v3') })).outcome
      .accepted
  )
  t.is(
    (await m.send(expert, 'template', { name: 'crm', version: 2, document: doc('v2') })).outcome
      .reason,
    'invalid',
    'versions only grow'
  )
  t.is(
    (await m.send(rival, 'template', { name: 'crm', version: 4, document: doc('mine') })).outcome
      .reason,
    'not-owner'
  )
  t.ok(
    (await m.send(rival, 'template', { name: 'crm.fork', version: 1, document: doc('fork') }))
      .outcome.accepted
  )
  t.is((await Q.getTemplate(m.view, 'crm'))?.document.toString(), 'v3', 'latest by default')
  t.is((await Q.getTemplate(m.view, 'crm', 1))?.document.toString(), 'v1')
  t.is(await Q.getTemplate(m.view, 'crm', 2), null)
  const all = await Q.listTemplates(m.view)
  t.alike(
    all.map((x) => [x.name, x.version, x.author]),
    [
      ['crm', 3, expert.key],
      ['crm.fork', 1, rival.key]
    ]
  )
})

test('engine time is the signed timestamp, clamped monotonic', async (t) => {
  const m = await Market.create()
  const a = new Actor('a')
  await m.send(m.faucet, 'deposit', { to: a.publicKey, amount: 5 }, { at: 5_000_000_000_000 })
  t.is(await Q.engineTime(m.view), 5_000_000_000_000)
  const back = await m.send(m.faucet, 'deposit', { to: a.publicKey, amount: 5 }, { at: 1 })
  t.is(back.outcome.time, 5_000_000_000_000, 'an older timestamp does not move time back')
  t.is(await Q.engineTime(m.view), 5_000_000_000_000)
})
