import b4a from 'b4a'
import Corestore from 'corestore'
import type { SwarmConnection } from 'hyperswarm'
import { testnet, swarm } from './helpers/net'
import { world, node, bot, serviceTemplate } from './helpers/deploy'
import { deploy, waitRunning } from '../bot/deployment'
import { replicaStatus } from '../bot/replica-status'
import { readLogs, LogLine } from '../bot/logs'
import { until } from '../bot/wait'
import type { DeploymentRecord } from '../bot/records'
import { generateKeyPair } from '../lib/identity'
import { encodeKey } from '../lib/keys'
import { seal } from '../lib/envelope'
import { StatusCore } from '../node/status'

import { NodeChannel } from '../lib/node-protocol'
import { sandboxTest } from './helpers/sandbox'
import { statusBody, transitionOf } from './helpers/node'

sandboxTest(
  'bot status shows the state a node signed in its status core, not what its unsigned summary claims, and records not signed by the node are not believed',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const b = await bot(t, w, { fund: 0 })

    // A node whose liveness protocol says "running" while its own signed status core says it refused the contract.
    const identity = generateKeyPair()
    const store = new Corestore(await t.tmp())
    t.teardown(() => store.close(), { order: 1 })
    const status = new StatusCore(store.namespace('scit/node'), identity)
    await status.ready()
    t.teardown(() => status.close())
    await status.record(transitionOf('lying.0', 'verifying', { reason: 'trade lying.0 is final' }))
    await status.record(
      transitionOf('lying.0', 'refused', { reason: 'header: the bot signature does not verify' })
    )
    // A record claiming "running", appended to the node's core but signed by someone else.
    const other = generateKeyPair()
    const forged = statusBody({ workload: 'lying.0', state: 'running', reason: 'all good' })
    await status.status.append(
      seal(other, {
        type: 'status',
        seq: status.status.length + 1,
        timestamp: Date.now(),
        body: forged
      })
    )

    const s = swarm(t, w.net, { keyPair: identity })
    s.on('connection', (conn: SwarmConnection) => {
      conn.on('error', () => {})
      store.replicate(conn)
      const ch = NodeChannel.attach(conn, {
        node: identity.publicKey,
        statusCore: status.status.key,
        logCore: status.logs.key,
        workloads: () => [
          {
            id: 'lying.0',
            kind: 'service',
            state: 'running',
            reason: 'all good (unsigned)',
            since: Date.now(),
            restarts: 0,
            ports: []
          }
        ],
        held: () => null
      })
      conn.once('close', () => ch.close())
    })
    await s.join(b4a.alloc(32, 42), { server: true, client: false }).flushed()

    const d = {
      id: 'lying',
      trades: [
        {
          id: 'LYING.0',
          workload: 'web',
          node: encodeKey(identity.publicKey),
          price: 1,
          phase: 'settled',
          replaces: null,
          reason: null
        }
      ]
    } as unknown as DeploymentRecord
    const [row] = await replicaStatus(b, d, 10_000)
    t.ok(row.reachable, 'the node was reached')
    t.ok(row.ping !== null, `it answers ping (liveness only): ${row.ping ?? ''} ms`)
    t.is(row.state, 'refused', 'the state is the one the node signed')
    t.is(row.reason, 'header: the bot signature does not verify', 'with the reason it signed')
    t.is(row.unverified, 1, 'the record signed by another key is counted, not shown')
  }
)

sandboxTest(
  'bot logs and bot status wait for a node the bot is not connected to, and name the nodes they could not reach',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const data = await t.tmp()
    const n0 = await node(t, w, { data })
    const n1 = await node(t, w)
    const b = await bot(t, w)
    const d = await deploy(b, { template: await serviceTemplate(t, { replicas: 2 }) })
    await waitRunning(b, d)
    // Both nodes have logged the workload's first line (output reaches the log core a moment after it runs).
    const first = new Set<string>()
    const abort = new AbortController()
    await readLogs(
      b,
      d,
      (l) => {
        if (/up hello/.test(l.text)) first.add(l.node)
        if (first.size === 2) abort.abort()
      },
      { follow: true, signal: abort.signal }
    )

    await n0.close()
    await until(b.client, async () => b.nodeChannel(n0.key) === null, { poll: 50 })
    const lines: LogLine[] = []
    const reading = readLogs(b, d, (l) => lines.push(l), { connectTimeout: 60_000 })
    const back = await node(t, w, { data })
    t.is(back.key, n0.key, 'the node is back (same identity), after the logs were asked for')
    const r = await reading
    t.alike(r.unreachable, [], 'every node was reached')
    t.alike(
      [...new Set(lines.filter((l) => /up hello/.test(l.text)).map((l) => l.node))].sort(),
      [n0.key, n1.key].sort(),
      'the logs of both nodes, the one that came back too'
    )

    await back.close()
    await until(b.client, async () => b.nodeChannel(n0.key) === null, { poll: 50 })
    const missed: string[] = []
    const later: LogLine[] = []
    const r2 = await readLogs(b, d, (l) => later.push(l), {
      connectTimeout: 500,
      onUnreachable: (u) => missed.push(u.node)
    })
    t.alike(
      r2.unreachable.map((u) => u.node),
      [n0.key],
      'a node that stays down is named'
    )
    t.alike(missed, [n0.key], 'as soon as it is known')
    t.ok(
      later.length > 0 && later.every((l) => l.node === n1.key),
      "the other node's logs are still shown"
    )

    const rows = await replicaStatus(b, d, 500)
    const down = rows.find((x) => x.node === n0.key)
    t.is(down?.reachable, false, 'bot status says the stopped node was not reached')
    t.ok(/could not be reached in 500 ms/.test(down?.reason ?? ''), down?.reason ?? '')
    t.is(
      rows.find((x) => x.node === n1.key)?.state,
      'running',
      "and shows the other node's signed state"
    )
  }
)

sandboxTest(
  'a bot on a loopback bootstrap gets its swarm from lib/swarm: reachable, never waiting on hole-punching',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const b = await bot(t, w, { dht: undefined, bootstrap: net.bootstrap, fund: 0 })
    t.is(b.swarm.dht.firewalled, false, 'the DHT node is declared reachable')
    t.is(b.swarm.dht.address().host, '127.0.0.1', 'and bound to loopback')
    t.ok(b.peer.peers > 0, 'it reached the market')
  }
)
