/**
 * A heal's trade the market released before the bot settled it (the bot was killed, then away past the settlement
 * window) is not reported healed when the restarted bot finds it released; the lease is healed again.
 */
import { world, node, bot, serviceTemplate, dieAt, nextLine, healed } from './helpers/deploy'
import { testnet } from './helpers/net'
import { until } from './helpers/ledger'
import { sandboxTest } from './helpers/sandbox'
import { deploy, waitRunning, resumeUntilDone } from '../bot/deployment'
import { generateKeyPair } from '../lib/identity'

sandboxTest(
  'a replacement released unsettled is not reported healed, and its lease is healed again',
  { timeout: 120_000 },
  async (t) => {
    const w = await world(t, await testnet(t), { settlementWindow: 3000 })
    const x = await node(t, w)
    const y = await node(t, w)
    const data = await t.tmp()
    const first = await bot(t, w, { data })
    const d = await deploy(first, { template: await serviceTemplate(t, { replicas: 1 }) })
    await waitRunning(first, d)
    const lease = d.trades[0]
    const [gone, left] = lease.node === x.key ? [x, y] : [y, x]

    // the heal buys on the node left, and the bot dies before it names and settles the trade
    const traded = nextLine(first, 'trade')
    dieAt(first, 'trade')
    await gone.close()
    first.monitor.start()
    await traded
    await first.close()
    const matched = first.state.find(d.id).trades.find((x) => x.replaces === lease.id)
    if (matched === undefined) return t.fail('no replacement trade recorded')
    t.is(matched.node, left.key, 'the heal bought on the node left')

    // the settlement window passes; the next op moves engine time and releases the trade
    await new Promise((resolve) => setTimeout(resolve, 3500))
    await w.founder.client.submitAndWait([
      { type: 'deposit', body: { to: generateKeyPair().publicKey, amount: 1 } }
    ])
    await until(
      w.founder,
      async () => (await w.founder.client.trade(matched.id))?.state === 'released'
    )

    const b = await bot(t, w, { data, fund: 0 })
    const lines: string[] = []
    b.events.on('progress', (step: string, detail: string) => {
      if (step === 'healed') lines.push(detail)
    })
    const r = b.state.find(d.id)
    await resumeUntilDone(b, r)
    t.is(
      r.trades.find((x) => x.id === matched.id)?.phase,
      'released',
      'the restarted bot finds it released'
    )
    t.alike(
      lines.filter((l) => l.includes(matched.id)),
      [],
      'no line says it healed the lease'
    )

    const again = healed(b)
    b.monitor.start()
    const what = await again
    t.ok(what.startsWith('healed'), what)
    const live = r.trades.filter((x) => x.replaces === lease.id && x.phase === 'settled')
    t.is(live.length, 1, 'the lease is healed again: one replacement settled')
    t.ok(what.includes(live[0]?.id ?? '-'), 'and that is the one the line names')
    const rows = await waitRunning(b, r)
    t.is(rows.find((row) => row.trade === live[0]?.id)?.state, 'running', 'it runs')
  }
)
