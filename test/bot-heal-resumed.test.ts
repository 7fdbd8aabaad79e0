/**
 * A heal's bid that a restarted bot resumes is the one heal of its lease: while the trader waits between two of its
 * bids (the record `expired` for the back-off), the monitor must not take the failed lease for one nothing replaces
 * and heal it again (the soak, seed 2700 on 80312c7: botB's CRM was healed twice that way, two replicas served, each
 * from its own copy, and 23 acknowledged writes were lost).
 */
import { world, node, bot, serviceTemplate, nextLine } from './helpers/deploy'
import { testnet } from './helpers/net'
import { sandboxTest } from './helpers/sandbox'
import { deploy, waitRunning, resumeUntilDone } from '../bot/deployment'
import { settleWithin } from '../lib/timeout'

sandboxTest(
  'a replacement bid resumed after a restart is the only heal of its lease, between two of its bids too',
  { timeout: 120_000 },
  async (t) => {
    const w = await world(t, await testnet(t))
    const x = await node(t, w)
    const data = await t.tmp()
    const trader = { bidWindow: 1500, attempts: 100, backoff: 1500 }
    const first = await bot(t, w, { data, trader })
    const d = await deploy(first, { template: await serviceTemplate(t, { replicas: 1 }) })
    await waitRunning(first, d)
    const lease = d.trades[0]
    // x goes and nothing else sells: the heal fails its lease and bids, and the bid rests
    const bidding = nextLine(first, 'bid')
    await x.close()
    first.monitor.start()
    await bidding
    await first.close()

    const b = await bot(t, w, { data, fund: 0, trader })
    const heals: string[] = []
    b.events.on('progress', (step: string, detail: string) => {
      if (step === 'heal') heals.push(detail)
    })
    const r = b.state.find(d.id)
    const rebid = nextLine(b, 'rebid')
    const resumed = resumeUntilDone(b, r)
    // the monitor's first look at the lease falls in a back-off, as the soak's did (its first tick, slowed by
    // another contract's checks, came 40 s after the restart); then it ticks every 200 ms through another
    await rebid
    const again = nextLine(b, 'rebid')
    b.monitor.start()
    await again
    const z = await node(t, w)
    t.ok(
      (await settleWithin(resumed, 60_000)) !== null,
      'the resumed deployment has its replacement'
    )
    t.alike(heals, [], 'no other heal of the lease while its resumed bid was followed')
    const live = r.trades.filter((x) => x.replaces === lease.id && x.phase === 'settled')
    t.alike(
      live.map((x) => x.node),
      [z.key],
      'one replacement, on the new node'
    )
    t.is(
      r.bids.filter((x) => x.replaces === lease.id).length,
      1,
      'one bid record replaces the lease'
    )
  }
)
