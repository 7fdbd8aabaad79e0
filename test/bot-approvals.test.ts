import { workloadId } from '../lib/trade-workload'
import Corestore from 'corestore'
import type { Assert } from 'brittle'
import { testnet, swarm } from './helpers/net'
import {
  world,
  node,
  bot,
  serviceTemplate,
  stakeholders,
  stateOn,
  nodeState,
  World
} from './helpers/deploy'
import { deploy, waitRunning, update } from '../bot/deployment'
import { replicaStatus, ReplicaStatus } from '../bot/replica-status'
import { until } from '../bot/wait'
import type { DeploymentRecord } from '../bot/records'
import { ContractSession } from '../bot/sign'
import { decodeKey } from '../lib/keys'
import type { Bot } from '../bot/bot'
import { sandboxTest } from './helpers/sandbox'

async function session(t: Assert, w: World, contract: string): Promise<ContractSession> {
  const store = new Corestore(await t.tmp())
  t.teardown(() => store.close(), { order: -1 })
  const s = new ContractSession({ store, swarm: swarm(t, w.net), contract: decodeKey(contract) })
  t.teardown(() => s.close(), { order: -4 })
  await s.ready()
  return s
}

/** The replicas' states as their nodes signed them (bot status), once `ok` holds for them. */
async function signed(
  b: Bot,
  d: DeploymentRecord,
  ok: (rows: ReplicaStatus[]) => boolean
): Promise<ReplicaStatus[]> {
  let rows: ReplicaStatus[] = []
  await until(b.client, async () => ok((rows = await replicaStatus(b, d, 2000))), { poll: 100 })
  return rows
}

function reached(b: Bot, step: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (s: string): void => {
      if (s === step) {
        b.events.off('progress', on)
        resolve()
      }
    }
    b.events.on('progress', on)
  })
}

sandboxTest(
  'stakeholders 2 of 3: nothing runs with one signature, it runs after the second; a key outside the policy is refused',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const n1 = await node(t, w)
    const n2 = await node(t, w)
    const b = await bot(t, w)
    const [legal, it, budget] = stakeholders(3)
    const outsider = stakeholders(1)[0]
    const file = await serviceTemplate(t, {
      stakeholders: [
        { key: legal.publicKey, role: 'legal', weight: 1 },
        { key: it.publicKey, role: 'it', weight: 1 },
        { key: budget.publicKey, role: 'budget', weight: 1 }
      ],
      threshold: 2
    })

    const waiting = reached(b, 'approvals')
    const deploying = deploy(b, { template: file, id: 'signed' })
    await waiting
    const d = b.state.find('signed')
    t.is(d.phase, 'approvals', 'the bot waits for the stakeholders')

    const s = await session(t, w, d.contract ?? '')
    t.ok(s.bot.equals(b.identity.publicKey), 'the stakeholder found the contract and its bot')
    t.is(s.view.current.manifest.stakeholders.threshold, 2, 'and read the manifest from the header')

    const bad = await s.sign(outsider, 'legal')
    t.is(bad.result.accepted, false, 'a key outside the policy is refused')
    t.ok(/unknown-stakeholder/.test(bad.result.reason ?? ''), bad.result.reason ?? '')

    const first = await s.sign(legal)
    t.ok(first.result.accepted, 'the first signature is taken')
    t.is(first.result.weight, 1)
    t.is(b.state.find('signed').phase, 'approvals', 'one signature: still waiting')
    t.is(
      stateOn(n1, d.trades[0].id) ?? stateOn(n2, d.trades[0].id),
      null,
      'one signature: no node runs anything'
    )
    const refused = await signed(b, d, (rows) =>
      rows.every((r) => /approved weight 1 of the 2/.test(r.reason))
    )
    t.alike(
      refused.map((r) => r.state),
      ['verifying', 'verifying'],
      'bot status shows what each node signed: waiting for approvals (not refused: its bot would replace the lease)'
    )
    t.ok(
      refused.every((r) => r.since !== null && r.reachable && r.unverified === 0),
      `with its reason: ${refused[0].reason}`
    )
    const w1 = await b.writer(d)
    t.is(w1.view.state().deploy, null, 'one signature: no deploy instruction')

    const second = await s.sign(budget)
    t.ok(second.result.accepted)
    t.is(second.result.weight, 2, 'the threshold is reached')
    await deploying
    t.is(d.phase, 'running')
    const rows = await waitRunning(b, d)
    t.alike(
      rows.map((r) => r.state),
      ['running', 'running'],
      'it runs after the second signature'
    )
    t.ok(w1.view.thresholdReached(), 'the core holds the approvals')
    t.is(w1.view.approvedWeight(), 2)
  }
)

sandboxTest(
  'an update needs the stakeholders again: the nodes hold the new version until the threshold is reached',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const n = await node(t, w)
    const b = await bot(t, w)
    const [legal, it] = stakeholders(2)
    const file = await serviceTemplate(t, {
      replicas: 1,
      stakeholders: [
        { key: legal.publicKey, role: 'legal', weight: 1 },
        { key: it.publicKey, role: 'it', weight: 1 }
      ],
      threshold: 1
    })
    const waiting = reached(b, 'approvals')
    const deploying = deploy(b, { template: file, id: 'v1' })
    await waiting
    const d = b.state.find('v1')
    const s = await session(t, w, d.contract ?? '')
    await s.sign(legal)
    await deploying
    await waitRunning(b, d)
    const trade = d.trades[0].id

    const held = nodeState(n, trade, (x) => x !== 'running' && x !== 'starting')
    const updating = update(b, d, { greeting: 'v2' })
    await held
    const [row] = await signed(b, d, (rows) => /approved weight/.test(rows[0]?.reason ?? ''))
    t.is(row.state, 'verifying', 'waiting for approvals, not refused')
    t.ok(
      /approved weight 0 of the 1/.test(row.reason),
      `the node stopped the old version and signed why: ${row.reason}`
    )
    t.is(
      d.manifestHash,
      (await b.writer(d)).view.current.hash.toString('hex'),
      'the new manifest is in force'
    )
    await s.refresh()
    t.is(
      s.view.current.hash.toString('hex'),
      d.manifestHash,
      'the stakeholder sees the new version'
    )
    const again = await s.sign(it)
    t.ok(again.result.accepted)
    t.is(
      again.result.weight,
      1,
      'the old signature does not count for the new version; this one does'
    )
    await updating
    await nodeState(n, trade, (x) => x === 'running')
    t.is(
      n.supervisor.get(workloadId({ id: trade }))?.spec.env.GREETING,
      'v2',
      'runs again once the new version is signed: the new version'
    )
  }
)
