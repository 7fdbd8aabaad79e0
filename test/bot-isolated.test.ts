import { runningDeployment } from './helpers/deploy'
import { crmTemplate, addContact, contacts, tunnelTo, type Contact } from './helpers/state'
import { sandboxTest } from './helpers/sandbox'

const GRACE = 5000
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

// The soak's lost CRM writes (seed 27): its bot cut from every peer past its grace healed the CRM's node as soon
// as it was back, restoring a snapshot older than all the contacts the node had taken from users meanwhile.
sandboxTest(
  "a bot cut off from every peer past its grace heals nothing once back: its CRM's node kept serving, no contact written meanwhile is lost",
  async (t) => {
    const { w, b, d } = await runningDeployment(t, {
      nodes: 2,
      template: await crmTemplate(t, { state: true }),
      bot: { monitor: { interval: 500, grace: GRACE, challengeInterval: 0 } }
    })
    const heals: string[] = []
    b.events.on('progress', (step: string, detail: string) => {
      if (step === 'heal') heals.push(detail)
    })
    b.monitor.start()
    const lease = d.trades[0]
    const port = await tunnelTo(t, w, d.contract, b.identity) // the user's own connection, never cut
    const written: Contact[] = [await addContact(port, 'Ada')]

    await b.swarm.suspend()
    await sleep(500)
    t.absent(b.reachesMarket(), 'the cut-off bot reaches no indexer')
    const until = Date.now() + 2 * GRACE
    while (Date.now() < until) {
      written.push(await addContact(port, `user ${written.length}`))
      await sleep(300)
    }
    t.alike(heals, [], 'no heal while it was cut off, two graces long')
    await b.swarm.resume()
    t.ok(
      (await b.reach(lease.node, GRACE)) !== null,
      'back, the bot reaches the node again within its grace'
    )
    // Then two more graces judged: back, the bot asks the node for its CRM state core's block 0 again, which the
    // node's clear of superseded state files had left unprovable; each ask destroyed the connection (bug L).
    const back = Date.now() + 2 * GRACE
    while (Date.now() < back) {
      written.push(await addContact(port, `user ${written.length}`))
      await sleep(300)
    }
    t.alike(heals, [], 'none in two graces after its return')
    t.ok(b.nodeChannel(lease.node) !== null, 'the bot holds a channel to its node')
    t.is(d.trades.length, 1, 'no replacement bought')
    t.is((await b.client.trade(lease.id))?.state, 'settled', 'the lease is still live')
    const list = await contacts(port)
    const missing = written.filter((c) => !list.some((x) => x.id === c.id))
    t.alike(
      missing.map((c) => c.name),
      [],
      `each of the ${written.length} contacts written is served (${list.length})`
    )
  }
)
