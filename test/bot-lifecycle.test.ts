import { workloadId } from '../lib/trade-workload'
import { testnet } from './helpers/net'
import {
  world,
  bot,
  serviceTemplate,
  moneyConserved,
  nodeState,
  runningDeployment
} from './helpers/deploy'
import { records } from './helpers/node-bot'
import { waitRunning, scale, update } from '../bot/deployment'
import { readLogs } from '../bot/logs'
import type { Bot } from '../bot/bot'
import type { DeploymentRecord } from '../bot/records'
import { sandboxTest } from './helpers/sandbox'

/** Resolve with the first log line of `d` matching `re` (follows the nodes' log cores). */
async function logLine(b: Bot, d: DeploymentRecord, re: RegExp): Promise<string> {
  const abort = new AbortController()
  let found = ''
  await readLogs(
    b,
    d,
    (l) => {
      if (!found && re.test(l.text)) {
        found = l.text
        abort.abort()
      }
    },
    { follow: true, signal: abort.signal }
  )
  return found
}

sandboxTest(
  'scale up buys and runs another replica, update rolls out new parameters, logs come from the nodes, scale down closes a lease',
  async (t) => {
    const { w, nodes, b, d } = await runningDeployment(t, {
      nodes: 3,
      template: await serviceTemplate(t, { replicas: 1 })
    })
    t.ok(
      /up hello/.test(await logLine(b, d, /up/)),
      "the workload output, read from the node's log core"
    )

    await scale(b, d, null, 2)
    const live = d.trades.filter((x) => x.phase === 'settled')
    t.is(live.length, 2, 'a second lease')
    t.is(new Set(live.map((x) => x.node)).size, 2, 'on another node (spread)')
    const rows = await waitRunning(b, d)
    t.alike(
      rows.filter((r) => r.lease === 'settled').map((r) => r.state),
      ['running', 'running'],
      'both replicas run'
    )
    const added = live.find((x) => x.id !== d.trades[0].id)
    const addedHost = nodes.find((n) => n.key === added?.node)
    if (!added || !addedHost) return t.fail('no new lease')
    const states = (await records(addedHost, workloadId(added))).map((r) => r.state)
    t.ok(
      states.includes('running') && !states.includes('refused'),
      `the new node found its trade named in the contract at once: ${states.join(' → ')}`
    )

    const before = d.manifestHash
    await update(b, d, { greeting: 'bonjour' })
    t.not(d.manifestHash, before, 'a new manifest version')
    const writer = await b.writer(d)
    t.is(writer.view.current.hash.toString('hex'), d.manifestHash, 'in force on the contract core')
    t.ok(
      /up bonjour/.test(await logLine(b, d, /bonjour/)),
      'the nodes restarted the workload with the new parameters'
    )

    const second = live[1]
    const host = nodes.find((n) => n.key === second.node)
    if (!host) return t.fail('no host')
    const stopped = nodeState(host, second.id, (s) => s !== 'running' && s !== 'starting')
    await scale(b, d, null, 1)
    await stopped
    t.is(
      d.trades.find((x) => x.id === second.id)?.phase,
      'closed',
      'scaling down closed the extra lease'
    )
    t.ok((await moneyConserved(w)).ok, 'money is conserved')
  }
)

sandboxTest(
  'waiting for an outcome on a closed bot rejects with CLOSED and leaves no unhandled rejection behind',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const b = await bot(t, w)
    await b.close()
    const unhandled: unknown[] = []
    const on = (reason: unknown): void => {
      unhandled.push(reason)
    }
    process.on('unhandledRejection', on)
    t.teardown(() => {
      process.off('unhandledRejection', on)
    })
    await t.exception(b.trader.outcome('no-such-op', 1000), /closing/, 'CLOSED at once')
    await new Promise((resolve) => setImmediate(resolve))
    t.alike(
      unhandled.map((e) => (e as Error).message),
      [],
      "the client's own wait was handled too"
    )
  }
)
