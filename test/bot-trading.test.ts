import fs from 'fs'
import { testnet } from './helpers/net'
import { world, node, bot, serviceTemplate } from './helpers/deploy'
import { deploy } from '../bot/deployment'
import { sandboxTest } from './helpers/sandbox'

function steps(b: {
  events: { on: (e: string, fn: (s: string, d: string) => void) => void }
}): string[] {
  const seen: string[] = []
  b.events.on('progress', (s, d) => seen.push(`${s}: ${d}`))
  return seen
}

sandboxTest(
  'a bid above what any offer asks for is re-placed a bounded number of times, then given up: nothing is bought',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    await node(t, w)
    await node(t, w)
    const b = await bot(t, w, { trader: { bidWindow: 300, attempts: 2, backoff: 50 } })
    const seen = steps(b)
    const file = await serviceTemplate(t, { replicas: 2 })
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('budget: 100', 'budget: 1'))
    const before = await b.client.balance(b.key)

    await t.exception(
      deploy(b, { template: file, id: 'cheap' }),
      /no offer filled app/,
      'it gives up with the reason'
    )
    const d = b.state.find('cheap')
    t.is(d.bids[0].attempt, 2, 'placed twice, as configured')
    t.ok(
      seen.some((l) => l.startsWith('rebid')),
      'the re-bid was shown'
    )
    t.is(d.trades.length, 0, 'no trade')
    // an expired bid shows as open until the next accepted op fires its deadline (market/engine): past its expiry it never fills
    t.ok(
      (await b.client.bids({ bot: b.key })).every(
        (x) => x.state !== 'open' || x.expiry < Date.now()
      ),
      'no bid left that could still fill'
    )
    t.is(await b.client.balance(b.key), before, 'no money moved')
  }
)

sandboxTest('a market refusal is shown with its reason and stops the deployment', async (t) => {
  const net = await testnet(t)
  const w = await world(t, net)
  await node(t, w)
  const b = await bot(t, w)
  const seen = steps(b)
  const file = await serviceTemplate(t, { replicas: 1 })
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('cpu: 500m', 'cpu: 64'))
  await t.exception(deploy(b, { template: file, id: 'huge' }), /refused the bid for app: invalid/)
  t.ok(
    seen.some((l) =>
      /^refused: app: the market refused bid \S+: invalid: one replica needs more than any node/.test(
        l
      )
    ),
    seen.find((l) => l.startsWith('refused')) ?? 'no refusal shown'
  )
  t.is(b.state.find('huge').bids[0].phase, 'rejected', 'recorded as refused')
  t.ok(b.state.find('huge').error, 'the deployment keeps the error')
})
