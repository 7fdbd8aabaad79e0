import sodium from 'sodium-universal'
import { testnet } from './helpers/net'
import {
  world,
  node,
  bot,
  serviceTemplate,
  moneyConserved,
  stateOn,
  nodeState,
  jobTemplate
} from './helpers/deploy'
import { deploy, waitRunning, stop } from '../bot/deployment'
import { readContract } from '../lib/contract'
import { decodeKey } from '../lib/keys'
import { sandboxTest } from './helpers/sandbox'

sandboxTest(
  'a service deployed on 2 nodes with placement constraints runs on both, and stop frees the capacity and refunds',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const ch1 = await node(t, w, { country: 'CH' })
    const ch2 = await node(t, w, { country: 'CH' })
    const de = await node(t, w, {
      country: 'DE',
      prices: { cpu: 1, memory: 0, ssd: 0, hdd: 0, ipv4: 0, gpu: 0 }
    })
    const b = await bot(t, w)
    const before = await b.client.balance(b.key)

    const d = await deploy(b, {
      template: await serviceTemplate(t, { replicas: 2, countries: ['CH'] })
    })
    t.is(d.phase, 'running')
    const nodes = d.trades.map((x) => x.node).sort()
    t.alike(
      nodes,
      [ch1.key, ch2.key].sort(),
      'both replicas on the CH nodes, none on the cheaper DE node'
    )
    t.is(new Set(nodes).size, 2, 'spread: each replica on its own node')

    const rows = await waitRunning(b, d)
    t.alike(
      rows.map((r) => r.state),
      ['running', 'running'],
      'both nodes report the replica running'
    )
    t.is(stateOn(de, d.trades[0].id), null, 'the DE node runs nothing')

    // what a node checks, done by hand: the core verifies for the bot and the settled manifest
    const view = await readContract((await b.writer(d)).core, {
      coreKey: decodeKey(d.contract ?? ''),
      botKey: b.identity.publicKey,
      manifestHash: Buffer.from(d.manifestHash, 'hex')
    })
    t.alike(
      view.header?.trades.sort(),
      d.trades.map((x) => x.id).sort(),
      'the header lists the trades'
    )
    t.ok(view.state().deploy, 'a deploy instruction')

    const paid = await b.client.balance(b.key)
    t.ok(paid < before, 'escrow left the balance')
    const offerBefore = await b.client.offer(ch1.key)
    t.is(offerBefore?.available.cpu, 500, 'the lease holds half the CH node')

    const stopped = Promise.all(
      d.trades.map((x) =>
        nodeState(x.node === ch1.key ? ch1 : ch2, x.id, (s) => s !== 'running' && s !== 'starting')
      )
    )
    await stop(b, d)
    await stopped
    t.is(d.phase, 'stopped')
    t.ok(
      d.trades.every((x) => x.phase === 'closed'),
      'every lease closed'
    )
    const trades = await Promise.all(d.trades.map((x) => b.client.trade(x.id)))
    t.ok(
      trades.every((x) => x !== null && x.refunded > 0),
      'each lease refunded its unused part'
    )
    t.is((await b.client.offer(ch1.key))?.available.cpu, 1000, 'the capacity is back on the offer')
    const after = await b.client.balance(b.key)
    t.ok(after > paid, `refund back on the balance (${paid} → ${after} of ${before})`)
    t.ok((await moneyConserved(w)).ok, 'money is conserved')
  }
)

sandboxTest(
  'a job runs to completion: bot status carries the exit code and the output digest the node signed',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    await node(t, w)
    const b = await bot(t, w)
    const file = await jobTemplate(t, {
      name: 'answer',
      code: 'require("fs").writeFileSync("out.txt", "forty-two\\n"); console.log("done")',
      output: 'out.txt'
    })
    const d = await deploy(b, { template: file })
    const [row] = await waitRunning(b, d) // a job is up once it exited
    t.is(row.state, 'exited', 'the node signed the job as exited')
    t.is(row.exitCode, 0, 'with exit code 0')
    const expected = Buffer.alloc(32)
    sodium.crypto_generichash(expected, Buffer.from('forty-two\n'))
    t.is(row.output, expected.toString('hex'), 'and the BLAKE2b-256 of its output file')
  }
)
