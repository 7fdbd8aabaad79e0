import { sandboxTest } from './helpers/sandbox'
import fs from 'fs'
import { testnet } from './helpers/net'
import { world, node, bot, serviceTemplate, jobTemplate } from './helpers/deploy'
import { scit, common, funded } from './helpers/cli'
import { deploy } from '../bot/deployment'

/** The line the CLI prints for an error (the progress lines come before it). */
function errorLine(stderr: string): string {
  return stderr.split('\n').find((l) => l.startsWith('error')) ?? stderr
}

sandboxTest(
  'scit bot deploy with a budget no offer meets ends at --timeout saying the cheapest price and the max; nothing is bought',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    // 500m and 256MiB at 10 per core-hour and 1 per GiB-hour: 5 + 1 (rounded up) = 6/h on both nodes
    await node(t, w)
    await node(t, w)
    const { data } = await funded(t, w.founder)
    const file = await serviceTemplate(t, { replicas: 1 })
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('budget: 100', 'budget: 1'))

    const run = await scit([
      'bot',
      'deploy',
      file,
      '--id',
      'cheap',
      '--timeout',
      '2s',
      ...common(net, w.founder, data)
    ])
    t.is(run.code, 1, 'it fails')
    t.ok(
      /^error TIMEOUT: no offer filled app in time \(.*\): no offer fits: the cheapest offer matching CH with ssd is 6\/h, your max is 1\/h; raise `budget` or relax placement$/.test(
        errorLine(run.stderr)
      ),
      errorLine(run.stderr)
    )
    t.absent(/\n\s+at /.test(run.stderr), 'no stack trace')

    const b = await bot(t, w, { data })
    const d = b.state.find('cheap')
    t.is(d.phase, 'failed', 'the deployment is recorded as failed')
    t.is(d.trades.length, 0, 'no trade')
    t.ok(
      (await b.client.bids({ bot: b.key })).every((x) => x.state !== 'open'),
      'no bid left open on the market'
    )
    t.is(await b.client.balance(b.key), 1_000_000, 'no money moved')
    const scaled = await scit(['bot', 'scale', 'cheap', '2', ...common(net, w.founder, data)])
    t.is(scaled.code, 1, 'a failed contract cannot be scaled')
    t.ok(
      /^error BAD_STATE: contract cheap failed before anything ran/.test(errorLine(scaled.stderr)),
      errorLine(scaled.stderr)
    )
  }
)

sandboxTest(
  "scit bot deploy --wait running ends with the node's reason when the node signs that the replica failed",
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    await node(t, w)
    const { data } = await funded(t, w.founder)
    const file = await jobTemplate(t, {
      name: 'crash',
      code: 'console.error("cannot reach the database"); process.exit(3)',
      restart: 'never'
    })

    const run = await scit([
      'bot',
      'deploy',
      file,
      '--id',
      'crash',
      '--wait',
      'running',
      '--timeout',
      '60s',
      ...common(net, w.founder, data)
    ])
    t.is(run.code, 1, 'it fails instead of waiting')
    t.ok(
      /^error REPLICA_FAILED: node \S+ signed that replica \S+ of calc failed: exit code 3; its lease is closed and the unused escrow refunded; its output: scit bot logs crash/.test(
        errorLine(run.stderr)
      ),
      errorLine(run.stderr)
    )
    t.absent(/\n\s+at /.test(run.stderr), 'no stack trace')
  }
)

sandboxTest(
  'scit bot scale past the nodes that can hold a replica ends at --timeout with the reason; the contract runs on, nothing bought',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    await node(t, w) // spread: one replica per node, and this is the only node
    const data = await t.tmp()
    const first = await bot(t, w, { data })
    await deploy(first, { template: await serviceTemplate(t, { replicas: 1 }), id: 'one' })
    const balance = await first.client.balance(first.key)
    const trades = (await first.client.trades({ bot: first.key })).length
    await first.close()

    const run = await scit([
      'bot',
      'scale',
      'one',
      '2',
      '--timeout',
      '2s',
      ...common(net, w.founder, data)
    ])
    t.is(run.code, 1, 'it fails')
    t.ok(
      /^error TIMEOUT: no offer filled app in time \(.*\): every offer matching CH with ssd \(1\) is from a node this contract already runs on or excludes \(spread: one replica per node\)/.test(
        errorLine(run.stderr)
      ),
      errorLine(run.stderr)
    )
    t.absent(/\n\s+at /.test(run.stderr), 'no stack trace')

    const b = await bot(t, w, { data })
    const d = b.state.find('one')
    t.is(d.phase, 'running', 'the contract runs on')
    t.is(d.trades.filter((x) => x.phase === 'settled').length, 1, 'with its one lease')
    t.ok(
      (await b.client.bids({ bot: b.key })).every((x) => x.state !== 'open'),
      'no bid left open on the market'
    )
    t.is((await b.client.trades({ bot: b.key })).length, trades, 'no trade')
    t.is(await b.client.balance(b.key), balance, 'no money moved')
  }
)

sandboxTest(
  'scit bot deploy by a bot with no money ends with the balance and how to fund it; the trade it matched is closed, the node sells its capacity again',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const n = await node(t, w)
    const data = await t.tmp()
    const run = await scit([
      'bot',
      'deploy',
      await serviceTemplate(t, { replicas: 1 }),
      '--id',
      'poor',
      ...common(net, w.founder, data)
    ])
    t.is(run.code, 1, 'it fails')
    t.ok(
      /^error REJECTED: the market refused to settle: settling \S+ needs \d+, the balance is 0; fund this bot \((\w{52})\): a faucet runs scit market deposit \1 AMOUNT/.test(
        errorLine(run.stderr)
      ),
      errorLine(run.stderr)
    )
    const b = await bot(t, w, { data, fund: 0 })
    const d = b.state.find('poor')
    t.is(d.phase, 'failed', 'the deployment is recorded as failed')
    const trades = await b.client.trades({ bot: b.key })
    t.ok(
      trades.length === 1 && trades[0].state === 'closed',
      `the matched trade is closed (${trades.map((x) => x.state).join(', ')})`
    )
    const offer = await b.client.offer(n.key)
    t.alike(offer?.available, offer?.resources, "the node's capacity is back on sale")
  }
)
