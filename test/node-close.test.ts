/**
 * A node cut off from every peer, on a network that answers nothing, stops when told: it unannounces its presence and
 * the services it serves for a bounded time only, as the bot does (bot-close.test.ts). Each waited on the DHT until it
 * gave up, before the swarm's own bounded destroy was reached.
 */
import { testnet, silence, cutDHT } from './helpers/net'
import { world, node, bot } from './helpers/deploy'
import { echoTemplate } from './helpers/reach'
import { sandboxTest } from './helpers/sandbox'
import { deploy, waitRunning } from '../bot/deployment'
import { workloadId } from '../lib/trade-workload'

/** A hang guard, not a speed bound: unbounded, the close waits minutes on this network. */
const GUARD = 20_000

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

sandboxTest(
  'a node cut off from every peer, its DHT answering nothing, stops when told, though it serves a service and announces its presence',
  { timeout: 300_000 },
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const { dht, cutAll } = cutDHT(net)
    // before the node's own teardown: a close left hanging (the failure this tests) then ends too
    t.teardown(() => dht.destroy({ force: true }), { order: -4 })
    const n = await node(t, w, { dht })
    const b = await bot(t, w)
    const d = await deploy(b, { template: await echoTemplate(t) })
    await waitRunning(b, d)
    const id = workloadId({ id: d.trades[0].id })
    while (!n.services.has(id)) await sleep(100)
    t.pass('the node serves the service on the DHT')

    cutAll()
    silence(dht)
    const started = Date.now()
    const closed = await Promise.race([n.close().then(() => true), sleep(GUARD).then(() => false)])
    t.ok(closed, `the close ended (${Date.now() - started} ms), it did not wait on the network`)
  }
)
