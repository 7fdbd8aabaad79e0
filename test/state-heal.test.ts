import path from 'path'
import b4a from 'b4a'
import { execFile } from 'child_process'
import { promisify } from 'util'
import { encodeKey } from '../lib/keys'
import { SCIT } from './helpers/node-process'
import { testnet } from './helpers/net'
import { world, node, bot, moneyConserved, healed, nodeState } from './helpers/deploy'
import { crmTemplate, addContact, contacts, hashOf, verified, tunnelTo } from './helpers/state'
import { sandboxTest } from './helpers/sandbox'
import { deploy, waitRunning } from '../bot/deployment'
import { workloadId } from '../lib/trade-workload'
import { lastStatus } from '../lib/status'
import { stateRows } from '../bot/cli-state'
import { scitProcess } from './helpers/bot-process'
import { common } from './helpers/cli'
import type { ContractDetail } from '../market/explorer/model'

sandboxTest(
  'a CRM whose node dies is healed onto another node with its contacts, restored from the snapshot its first node signed',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const nodes = [await node(t, w), await node(t, w)]
    const b = await bot(t, w)
    const d = await deploy(b, { template: await crmTemplate(t, { state: true }) })
    b.monitor.start()
    await waitRunning(b, d)
    const port = await tunnelTo(t, w, d.contract, b.identity) // the same tunnel reaches the healed CRM
    const lost = d.trades[0]
    const victim = nodes.find((n) => n.key === lost.node)
    if (!victim) return t.fail('the CRM runs on no test node')

    const old = [
      await addContact(port, 'Ada'),
      await addContact(port, 'Grace'),
      await addContact(port, 'Edsger')
    ]
    // the bot verified a snapshot that holds these three: they are older than one snapshot interval
    const file = path.join(victim.supervisor.workDir(workloadId(lost)), 'data.json')
    const want = await hashOf({ 'data.json': file })
    const snap = await verified(b, lost.id, (s) => b4a.equals(Buffer.from(s.hash, 'hex'), want))
    t.ok(snap.seq >= 1, `the bot verified snapshot ${snap.seq} of ${lost.id}, ${snap.size} bytes`)
    const rows0 = await stateRows(b, d)
    t.ok(
      rows0.length === 1 &&
        (rows0[0].seq ?? 0) >= snap.seq &&
        rows0[0].size === snap.size &&
        rows0[0].refused === null,
      `scit bot state lists it: snapshot ${rows0[0]?.seq ?? '?'}, ${rows0[0]?.size ?? '?'} bytes, ${rows0[0]?.age ?? '?'} ms old`
    )
    // the CLI, while this bot holds its data dir: what it recorded
    const cli = await promisify(execFile)(process.execPath, [
      SCIT,
      'bot',
      'state',
      d.id,
      '--data',
      b.opts.data,
      '--market',
      encodeKey(w.key),
      '--json'
    ])
    const shown = JSON.parse(cli.stdout) as {
      replicas: Array<{ trade: string; seq: number | null }>
    }
    t.ok(
      shown.replicas.some((r) => r.trade === lost.id && (r.seq ?? 0) >= snap.seq),
      'scit bot state --json shows it too'
    )
    await addContact(port, 'Barbara') // after it: kept by the clean stop's last snapshot, or lost with a crash

    const done = healed(b)
    await victim.close()
    t.ok((await done).startsWith('healed'), 'the bot healed the CRM')
    const replacement = d.trades.find((x) => x.replaces === lost.id)
    const spare = nodes.find((n) => n !== victim)
    t.is(replacement?.node, spare?.key, 'onto the other node')
    const ins = (await b.writer(d)).view.instructions.find((i) =>
      i.trades.includes(replacement?.id ?? '')
    )
    const ref = ins?.restore.find((r) => r.trade === replacement?.id)
    t.ok(
      ref !== undefined && ref.from === lost.id && ref.seq >= snap.seq,
      `the signed scale instruction names snapshot ${ref?.seq ?? '?'} of ${lost.id} to restore`
    )
    t.ok(
      ref !== undefined && b4a.equals(ref.node, victim.identity.publicKey),
      'signed by the node that ran it'
    )

    const after = await waitRunning(b, d)
    const row = after.find((r) => r.trade === replacement?.id)
    t.is(row?.state, 'running', 'the healed replica runs')
    const list = await contacts(port)
    t.ok(list.length >= old.length, `it serves ${list.length} contacts`)
    t.ok(
      old.every((c) => list.some((x) => x.id === c.id)),
      'every contact older than one snapshot interval is there'
    )

    const money = await moneyConserved(w)
    t.ok(money.ok, `money is conserved through the heal (${money.held} of ${money.minted})`)
    const offers = await Promise.all(nodes.map((n) => w.founder.client.offer(n.key)))
    const spareOffer = offers[nodes.indexOf(spare ?? nodes[0])]
    t.is(
      spareOffer?.available.cpu,
      (spareOffer?.resources.cpu ?? 0) - 500,
      "the new node sold the replica's core once"
    )
    const status = spare
      ? await lastStatus(
          spare.status.status,
          spare.identity.publicKey,
          workloadId(replacement ?? lost)
        )
      : null
    t.ok(status?.record?.body.stateCore !== null, 'its signed status names its own state core')

    // The dead node's cores get a short wait, not the whole --timeout: the answer does not wait for it.
    const shown2 = await scitProcess(
      [
        'market',
        'contract',
        d.contract ?? '',
        '--timeout',
        '60s',
        '--json',
        ...common(net, w.founder, await t.tmp())
      ],
      45_000
    )
    t.is(shown2.code, 0, `scit market contract of the healed CRM answers: ${shown2.stderr}`)
    t.comment(`scit market contract of a healed contract: ${shown2.ms} ms with --timeout 60s`)
    const detail = JSON.parse(shown2.stdout || '{}') as ContractDetail
    // the dead node's status may still be read from a peer that holds a copy, or not: either is shown as such
    t.alike(
      detail.replicas?.map((r) => [r.trade, r.lease]),
      [
        [lost.id, 'failed'],
        [replacement?.id, 'settled']
      ],
      "both leases: the dead node's failed, the healed one's live"
    )
    const now = detail.replicas?.[1]
    t.alike(
      [now?.status, now?.state],
      ['verified', 'running'],
      'the healed replica runs, as its node signed'
    )
  }
)

sandboxTest(
  'a node restarted on its data dir resumes its own state core: the CRM keeps its contacts, nothing is restored from elsewhere',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const data = await t.tmp()
    const n = await node(t, w, { data })
    const b = await bot(t, w)
    const d = await deploy(b, { template: await crmTemplate(t, { state: true, interval: '1h' }) })
    await waitRunning(b, d)
    const id = workloadId(d.trades[0])
    const port = await tunnelTo(t, w, d.contract, b.identity)
    const added = [await addContact(port, 'Ada'), await addContact(port, 'Grace')]
    const first = await n.stateKeepers.get(id)?.snapshot()
    const key = n.stateKeepers.key(id)
    t.ok(
      first != null && first.seq >= 1,
      `the node snapshotted its state (snapshot ${first?.seq ?? '?'})`
    )

    await n.close()
    const again = await node(t, w, { data, workloads: n.supervisor.root })
    await nodeState(again, d.trades[0].id, (s) => s === 'running')
    const list = await contacts(port)
    t.ok(
      added.every((c) => list.some((x) => x.id === c.id)),
      `the restarted CRM serves its ${list.length} contacts`
    )
    t.alike(again.stateKeepers.key(id), key, 'the same state core')
    await addContact(port, 'Edsger')
    const next = await again.stateKeepers.get(id)?.snapshot()
    t.ok(
      next != null && first != null && next.seq > first.seq,
      `its snapshots go on: ${first?.seq ?? '?'} before the restart, ${next?.seq ?? '?'} after`
    )
    t.is(
      (await b.writer(d)).view.instructions.flatMap((i) => i.restore).length,
      0,
      'no restore was signed or needed'
    )
  }
)

sandboxTest(
  'a replacement that fails before its first snapshot passes on what it was restored from: the next one does not start empty',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const nodes = [await node(t, w), await node(t, w), await node(t, w)]
    const b = await bot(t, w)
    // snapshots only when asked: the first replacement never takes one of its own
    const d = await deploy(b, { template: await crmTemplate(t, { state: true, interval: '1h' }) })
    b.monitor.start()
    await waitRunning(b, d)
    const port = await tunnelTo(t, w, d.contract, b.identity)
    const first = d.trades[0]
    const a = nodes.find((n) => n.key === first.node)
    if (!a) return t.fail('the CRM runs on no test node')
    const old = [await addContact(port, 'Ada'), await addContact(port, 'Grace')]
    const snap = await a.stateKeepers.get(workloadId(first))?.snapshot()
    if (snap == null) return t.fail('no snapshot')
    await verified(b, first.id, (s) => s.seq >= snap.seq)

    let done = healed(b)
    await a.close()
    t.ok((await done).startsWith('healed'), 'healed once')
    const second = d.trades.find((x) => x.replaces === first.id)
    if (!second) return t.fail('no first replacement')
    // its node dies before the bot copied a snapshot of it
    done = healed(b)
    await b.trader.end(d, second.id, 'fail', 'its node stopped')
    t.is(second.snapshot ?? null, null, 'the bot holds no snapshot of the first replacement')
    t.ok((await done).startsWith('healed'), 'healed again')
    const third = d.trades.find((x) => x.replaces === second.id)
    const ins = (await b.writer(d)).view.instructions.find((i) =>
      i.trades.includes(third?.id ?? '')
    )
    const ref = ins?.restore.find((r) => r.trade === third?.id)
    t.ok(
      ref !== undefined && ref.from === first.id && ref.seq >= snap.seq,
      `the second replacement restores snapshot ${ref?.seq ?? '?'} of ${ref?.from ?? 'nothing'}`
    )
    await waitRunning(b, d)
    const list = await contacts(port)
    t.ok(
      old.every((c) => list.some((x) => x.id === c.id)),
      `it serves the contacts of the first replica (${list.length})`
    )
  }
)
