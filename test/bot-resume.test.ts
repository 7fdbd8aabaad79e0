import fs from 'fs'
import { testnet } from './helpers/net'
import { world, node, bot, serviceTemplate, moneyConserved, dieAt } from './helpers/deploy'
import { deploy, resume, stop, waitRunning } from '../bot/deployment'
import { sandboxTest } from './helpers/sandbox'
import { peer, addIndexer } from './helpers/ledger'
import { generateKeyPair } from '../lib/identity'

sandboxTest(
  'a bot killed right after placing its bid resumes on restart without buying twice',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    await node(t, w)
    await node(t, w)
    const data = await t.tmp()
    const file = await serviceTemplate(t, { replicas: 2 })

    const first = await bot(t, w, { data })
    // A listener that throws stops the bot right there, as a kill would (nothing after it runs).
    dieAt(first, 'bid')
    await t.exception(
      deploy(first, { template: file, id: 'resumed' }),
      /killed/,
      'the first run dies mid-trade'
    )
    await first.close()

    // The worst moment to die: the bid is in the ledger, the state does not know its id yet.
    const state = JSON.parse(fs.readFileSync(first.state.file, 'utf8'))
    const placed = state.deployments[0].bids[0].id
    t.ok(placed, 'the bid was placed')
    state.deployments[0].bids[0].id = null
    state.deployments[0].bids[0].phase = 'intent'
    fs.writeFileSync(first.state.file, JSON.stringify(state))

    const second = await bot(t, w, { data })
    t.is(second.key, first.key, 'same identity')
    const d = second.state.find('resumed')
    t.is(d.phase, 'trading', 'restarted mid-trade')
    await resume(second, d)
    t.is(d.phase, 'running')
    t.is(d.bids[0].id, placed, 'the bid placed before the crash was found and followed')
    const bids = await second.client.bids({ bot: second.key })
    t.is(bids.length, 1, 'one bid in the market, not two')
    const trades = await second.client.trades({ bot: second.key })
    t.is(trades.length, 2, 'two trades for two replicas')
    t.ok(
      trades.every((x) => x.state === 'settled'),
      'each settled once'
    )
    const rows = await waitRunning(second, d)
    t.alike(
      rows.map((r) => r.state),
      ['running', 'running'],
      'both replicas run, as their nodes signed'
    )
    t.is(new Set(rows.map((r) => r.node)).size, 2, 'on two nodes')
    t.ok((await moneyConserved(w)).ok, 'money is conserved')
  }
)

sandboxTest('a bot restarted while waiting for stakeholders resumes at that step', async (t) => {
  const net = await testnet(t)
  const w = await world(t, net)
  await node(t, w)
  const data = await t.tmp()
  const file = await serviceTemplate(t, {
    replicas: 1,
    stakeholders: [{ key: Buffer.alloc(32, 7), role: 'legal', weight: 1 }],
    threshold: 1
  })
  const first = await bot(t, w, { data })
  const d1 = await deploy(first, { template: file, id: 'waiting' }, { waitApprovals: false })
  t.is(d1.phase, 'approvals')
  const core = d1.contract
  await first.close()

  const second = await bot(t, w, { data })
  const d = second.state.find('waiting')
  await resume(second, d, { waitApprovals: false })
  t.is(d.phase, 'approvals', 'still waiting for the stakeholder')
  t.is(d.contract, core, 'the same contract core')
  t.is((await second.client.bids({ bot: second.key })).length, 1, 'no second bid')
  t.is((await second.writer(d)).core.length, 1, 'the header, written once')
})

sandboxTest(
  'a deploy whose bid the market cannot decide in time (an indexer of two away) tries again, and runs once the indexer is back',
  { timeout: 240_000 },
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const data = await t.tmp()
    const identity = generateKeyPair()
    const second = await peer(t, net, { market: w.key, data, identity })
    await addIndexer([w.founder], second)
    await node(t, w)
    // an op undecided for 5 s, not the default 30, is a TIMEOUT: the retry is what is checked, not how long it took
    const b = await bot(t, w, { outcomeTimeout: 5_000 })
    await second.close() // no quorum: nothing the bot sends is decided until it is back

    const retried = new Promise<string>((resolve) =>
      b.events.on('progress', (step: string, detail: string) => {
        if (step === 'retry') resolve(detail)
      })
    )
    const deploying = deploy(b, { template: await serviceTemplate(t, { replicas: 1 }) })
    t.ok(
      /has no final outcome/.test(await retried),
      'an op was not decided in time: the deploy says it tries again'
    )
    await peer(t, net, { market: w.key, data, identity })
    const d = await deploying
    t.is(d.phase, 'running', 'with the indexer back, the deploy goes on where it was')
    const rows = await waitRunning(b, d)
    t.is(rows[0]?.state, 'running', 'and the workload runs')
    t.is(d.trades.length, 1, 'bought once')
  }
)

sandboxTest(
  'a stop cut short (found by the soak) is finished on restart: what its user stopped is never settled nor deployed',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    await node(t, w)
    const data = await t.tmp()
    const file = await serviceTemplate(t, { replicas: 1 })

    const first = await bot(t, w, { data })
    dieAt(first, 'trade')
    await t.exception(
      deploy(first, { template: file, id: 'halted' }),
      /killed/,
      'a deploy cut short mid-trade'
    )
    // Its user stops it; that stop is cut short too (killed, or an op the market did not decide in time).
    dieAt(first, 'stop')
    await t.exception(stop(first, first.state.find('halted')), /killed/, 'the stop dies once begun')
    await first.close()

    const second = await bot(t, w, { data })
    const d = second.state.find('halted')
    t.is(d.phase, 'trading', 'restarted mid-trade')
    t.ok(d.stopping !== undefined, 'with the stop its user asked for kept')
    await resume(second, d) // what scit bot run does with every deployment not over
    t.is(d.phase, 'stopped', 'the restart finished the stop')
    t.is(d.stopping, undefined)
    const trades = await second.client.trades({ bot: second.key })
    t.ok(
      trades.every((x) => x.state !== 'settled'),
      `no lease was paid for: ${trades.map((x) => x.state).join(', ')}`
    )
    t.absent((await second.writer(d)).hasHeader, 'and no contract was written for the nodes to run')
    t.ok((await moneyConserved(w)).ok, 'money is conserved')
  }
)
