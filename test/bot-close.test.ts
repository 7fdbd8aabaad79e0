/**
 * A bot cut off from every peer, on a network that answers nothing, stops when told to and loses nothing its restart
 * needs (the soak: a cut-off `scit bot run` outlived its SIGTERM by 30 s and was killed; a user's Ctrl-C with the
 * network down would hang as long). Its close unannounced every topic and its key, each until the DHT gave up.
 */
import { testnet, silence, cutDHT } from './helpers/net'
import { world, node, bot, serviceTemplate } from './helpers/deploy'
import { sandboxTest } from './helpers/sandbox'
import { isScitError } from '../lib/errors'
import { generateKeyPair } from '../lib/identity'
import { encodeKey } from '../lib/keys'
import { deploy, waitRunning } from '../bot/deployment'
import { until } from '../bot/wait'

/** A hang guard, not a speed bound: unbounded, the close waits minutes on this network. */
const GUARD = 20_000
const BOUND = 60_000

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

sandboxTest(
  'a bot cut off from every peer, its DHT answering nothing, stops when told; restarted, it runs its contract and sends what was not final',
  { timeout: 300_000 },
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    await node(t, w)
    const { dht, cutAll } = cutDHT(net)
    // before the bot's own teardown: a close left hanging (the failure this tests) then ends too
    t.teardown(() => dht.destroy({ force: true }), { order: -4 })
    const data = await t.tmp()
    const b = await bot(t, w, { data, dht })
    const d = await deploy(b, { template: await serviceTemplate(t, { replicas: 1 }) })
    await waitRunning(b, d)
    b.monitor.start()

    cutAll()
    const deadline = Date.now() + BOUND
    while (b.reachesMarket() && Date.now() < deadline) await sleep(100)
    t.absent(b.reachesMarket(), 'the bot reaches no indexer')
    const payee = generateKeyPair().publicKey
    const sent = await b.client.submit([{ type: 'transfer', body: { to: payee, amount: 7 } }]).then(
      () => null,
      (err: Error) => err
    )
    t.ok(
      isScitError(sent, 'TIMEOUT'),
      `a transfer sent cut off is kept to send again: ${String(sent)}`
    )
    silence(dht)

    const started = Date.now()
    const closed = await Promise.race([b.close().then(() => true), sleep(GUARD).then(() => false)])
    t.ok(closed, `the close ended (${Date.now() - started} ms), it did not wait on the network`)
    if (!closed) return

    const again = await bot(t, w, { data, fund: 0 })
    const r = again.state.find(d.id)
    t.is(r.phase, 'running', 'restarted on its data dir, the bot holds its contract, running')
    t.alike(
      r.trades.map((x) => x.id),
      d.trades.map((x) => x.id),
      'with its leases'
    )
    const paid = await until(
      again.client,
      async () => (await again.client.balance(encodeKey(payee))) === 7,
      {
        deadline: Date.now() + BOUND,
        poll: 500
      }
    )
    t.ok(paid, 'the transfer sent while cut off is final: the restart sent it from the outbox')
  }
)
