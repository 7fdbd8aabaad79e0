import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import { testnet } from './helpers/net'
import { world, node, bot, nodeState, FAST_MONITOR } from './helpers/deploy'
import { crmTemplate, addContact, contacts, hashOf, verified, openTunnel } from './helpers/state'
import { sandboxTest } from './helpers/sandbox'
import { deploy, waitRunning } from '../bot/deployment'
import { workloadId } from '../lib/trade-workload'
import type { Tunnel } from '../connect/tunnel'
import { settleWithin } from '../lib/timeout'
import { encodeKey } from '../lib/keys'

/** Resolve once the tunnel has `n` live replicas. */
function replicas(tunnel: Tunnel, n: number): Promise<true> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (tunnel.replicaCount !== n) return
      tunnel.off('replicas', check)
      resolve(true)
    }
    tunnel.on('replicas', check)
    check()
  })
}

// The soak (seed 2700): a node refused its damaged store, its farmer moved the store aside, and the node went on
// with its leases on a fresh one, under new status and state core keys. The bot kept reading the old cores: no
// snapshot of the replica was copied again, so a later heal would restore data as old as the damage.
sandboxTest(
  "a node restarted on a fresh store (its damaged one moved aside) signs on new cores: the bot follows them, and a heal would restore the replica's latest snapshot",
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const data = await t.tmp()
    const n = await node(t, w, { data })
    // no heal while the node is down for its restart: the copy is what is looked at
    const b = await bot(t, w, { monitor: { ...FAST_MONITOR, grace: 120_000 } })
    const d = await deploy(b, { template: await crmTemplate(t, { state: true }) })
    b.monitor.start()
    await waitRunning(b, d)
    const trade = d.trades[0]
    const id = workloadId(trade)
    const tunnel = await openTunnel(t, w, d.contract, b.identity)
    const port = tunnel.address.port
    const ada = await addContact(port, 'Ada')
    const before = n.stateKeepers.key(id)
    if (before === null) return t.fail('the node keeps no state core of the CRM')
    const first = await verified(b, trade.id, (s) => s.core === encodeKey(before))
    t.ok(first.seq >= 1, `the bot verified snapshot ${first.seq} of the first core`)

    // its last record on the old status core: the CRM stopped (a clean stop says so; a crash may not)
    await n.supervisor.stop(id, 'node shutting down')
    t.ok(
      (await settleWithin(replicas(tunnel, 0), 30_000)) !== null,
      'scit connect read that the CRM stopped'
    )
    await n.close()
    fs.renameSync(path.join(data, 'corestore'), path.join(data, 'corestore.damaged'))
    const again = await node(t, w, { data, workloads: n.supervisor.root })
    await nodeState(again, trade.id, (s) => s === 'running')
    const after = again.stateKeepers.key(id)
    t.ok(
      after !== null && !b4a.equals(after, before),
      'the fresh store keeps the state under another core'
    )

    // scit connect: the node's last record on its old status core said the CRM stopped; the new core says it runs
    const grace = await addContact(port, 'Grace').catch(() => null)
    if (grace === null) return t.fail('scit connect does not reach the CRM on its new status core')
    const list = await contacts(port)
    t.ok(
      [ada, grace].every((c) => list.some((x) => x.id === c.id)),
      'scit connect reaches the CRM again, which went on from its work dir'
    )
    const file = path.join(again.supervisor.workDir(id), 'data.json')
    const want = await hashOf({ 'data.json': file })
    const latest = await settleWithin(
      verified(
        b,
        trade.id,
        (s) =>
          s.core === encodeKey(after ?? b4a.alloc(0)) &&
          b4a.equals(Buffer.from(s.hash, 'hex'), want)
      ),
      30_000
    )
    t.ok(
      latest !== null,
      `the bot verified a snapshot of the new core holding both contacts (it holds snapshot ${trade.snapshot?.seq ?? '?'} of ${trade.snapshot?.core.slice(0, 8) ?? '?'}, the first core was ${encodeKey(before).slice(0, 8)})`
    )
  }
)
