import test from 'brittle'
import net from 'net'
import b4a from 'b4a'
import type { SwarmConnection } from 'hyperswarm'
import { testnet, swarm } from './helpers/net'
import { world, node, healed, waitFor, runningDeployment } from './helpers/deploy'
import { common, funded } from './helpers/cli'
import { runScit } from './helpers/runtime'
import { sandboxTest } from './helpers/sandbox'
import { store, writer, forge, encode, minimalInstance } from './helpers/bot'
import { echoTemplate, accepted, connectProcess, echoThrough } from './helpers/reach'
import { crmTemplate } from './helpers/state'
import { waitRunning } from '../bot/deployment'
import { generateKeyPair, loadIdentity } from '../lib/identity'
import { decodeKey, encodeKey, hash } from '../lib/keys'
import { workloadId } from '../lib/trade-workload'
import { headerEncoding, manifestHash } from '../lib/contract'
import { approvalsTopic } from '../lib/topics'
import { Tunnel } from '../connect/tunnel'
import { request, whenUp } from '../examples/demo/http'

/** Where scit connect looked servers up before it authenticated them by key: anyone can announce there. */
function serviceTopic(contract: Buffer, workload: string, port: number): Buffer {
  const p = b4a.alloc(2)
  p.writeUInt16BE(port)
  return hash('scit/topic/service', contract, b4a.from(workload), p)
}

sandboxTest(
  "a rogue server announced on the contract's service topic gets none of 30 connections through scit connect; the real replica gets all 30",
  async (t) => {
    const {
      net: tn,
      w,
      nodes: [n],
      b,
      d
    } = await runningDeployment(t, { template: await echoTemplate(t) })
    const id = workloadId({ id: d.trades[0].id })

    const rogue = tn.createNode()
    t.teardown(() => rogue.destroy())
    let dialled = 0
    const server = rogue.createServer(
      {
        firewall: () => {
          dialled++
          return false
        }
      },
      (s) => {
        s.on('error', () => {})
        s.pipe(s)
      }
    )
    const kp = generateKeyPair()
    await server.listen(kp)
    await rogue
      .announce(serviceTopic(decodeKey(d.contract ?? ''), 'echo', 7000), kp, server.relayAddresses)
      .finished()

    const c = await connectProcess(t, w, b.opts.data, d.contract ?? '')
    let echoed = 0
    for (let i = 0; i < 30; i++) if (await echoThrough(c.port)) echoed++
    t.is(echoed, 30, 'every connection was echoed')
    t.is(dialled, 0, 'the rogue was never dialled')
    t.is(accepted(n, id), 30, 'the real replica accepted all 30')
  }
)

sandboxTest(
  'after a heal away from a live node, its open tunnel is closed and, though its key serves on the DHT again, no connection reaches it: the new replica serves',
  async (t) => {
    const {
      net: tn,
      w,
      nodes,
      b,
      d
    } = await runningDeployment(t, { nodes: 2, template: await echoTemplate(t) })
    const first = d.trades[0]
    const old = nodes.find((n) => n.key === first.node)
    if (old === undefined) return t.fail('the echo runs on no node of the test')
    const c = await connectProcess(t, w, b.opts.data, d.contract ?? '')

    const open = net.connect(c.port, '127.0.0.1')
    open.on('error', () => {})
    const closed = new Promise<void>((resolve) => open.once('close', () => resolve()))
    open.write('ping')
    await new Promise((resolve) => open.once('data', resolve))
    open.on('data', () => {})
    t.is(accepted(old, workloadId(first)), 1, 'an open connection to the old replica')

    const done = healed(b)
    await b.monitor.heal(d, first, 'test: healed away from a node that is still up')
    t.ok((await done).startsWith('healed'), 'the bot healed the echo onto the other node')
    await waitRunning(b, d)
    await closed
    t.pass('the open connection to the old replica was closed')

    // The old node keeps serving its key on the DHT after its trade ended, as a misbehaving node could.
    const oldId = workloadId(first)
    await waitFor(b, async () => !old.services.has(oldId))
    const dht = tn.createNode()
    t.teardown(() => dht.destroy())
    let dialled = 0
    const again = dht.createServer(
      {
        firewall: () => {
          dialled++
          return false
        }
      },
      (s) => {
        s.on('error', () => {})
        s.pipe(s)
      }
    )
    await again.listen(old.services.keyPair(oldId, 7000))

    const now = d.trades.find((x) => x.phase === 'settled' && x.id !== first.id)
    const fresh = nodes.find((n) => n.key === now?.node)
    if (now === undefined || fresh === undefined) return t.fail('no replacement replica')
    let echoed = 0
    for (let i = 0; i < 10; i++) if (await echoThrough(c.port)) echoed++
    t.is(echoed, 10, 'every new connection was echoed')
    t.is(dialled, 0, 'none reached the old node')
    t.is(accepted(fresh, workloadId(now)), 10, 'the new replica served all 10')
  }
)

sandboxTest(
  "with the bot's process gone, scit connect reads the contract from the node that runs it and reaches the CRM: a contact written through it is read back; market contract and bot approvals read it too",
  async (t) => {
    const tn = await testnet(t)
    const w = await world(t, tn)
    await node(t, w)
    const { data } = await funded(t, w.founder)
    const user = await t.tmp()
    const args = common(tn, w.founder, data)
    const template = await crmTemplate(t, {
      access: ['bot', encodeKey(loadIdentity(user).publicKey)]
    })
    const dep = await runScit('node', [
      'bot',
      'deploy',
      template,
      '--wait',
      'running',
      '--json',
      ...args
    ])
    t.is(dep.code, 0, dep.stderr)
    // `bot deploy` returned: its process is gone, and no `scit bot run` serves the contract.
    const contract = (JSON.parse(dep.stdout) as { contract: string }).contract

    const c = await connectProcess(t, w, user, contract)
    const url = `http://127.0.0.1:${c.port}`
    const added = await whenUp<{ id: string }>('POST', `${url}/contacts`, {
      name: 'Grace Hopper',
      email: 'grace@example.com'
    })
    t.is(added.status, 201, 'the CRM stored the contact')
    const list = await request<Array<{ id: string; name: string }>>('GET', `${url}/contacts`)
    t.ok(
      list.body.some((x) => x.id === added.body.id && x.name === 'Grace Hopper'),
      'and it is read back through the tunnel'
    )

    const detail = await runScit('node', ['market', 'contract', contract, '--json', ...args])
    t.is(detail.code, 0, detail.stderr)
    t.is(
      (JSON.parse(detail.stdout) as { verified: boolean }).verified,
      true,
      'market contract verified it'
    )
    const approvals = await runScit('node', [
      'bot',
      'approvals',
      contract,
      '--json',
      ...common(tn, null, data)
    ])
    t.is(approvals.code, 0, approvals.stderr)
  }
)

sandboxTest(
  "a status record the node signed for another contract, found where this contract's replica should be, binds no key: scit connect dials nothing",
  async (t) => {
    const {
      net: tn,
      w,
      nodes: [n],
      b,
      d
    } = await runningDeployment(t, { template: await echoTemplate(t) })
    const id = workloadId(d.trades[0])
    const running = n.supervisor.get(id)
    if (running === null) return t.fail('the echo does not run')
    const tunnel = new Tunnel({
      contract: decodeKey(d.contract ?? ''),
      market: w.key,
      keyPair: b.identity,
      dht: tn.createNode(),
      timeout: 20_000,
      refresh: 200
    })
    t.teardown(() => tunnel.close())
    await tunnel.ready()
    t.is(await tunnel.waitReplica(), 1, 'the replica is authenticated by its status record')

    // The node's signature over contract A, this trade, this workload and its key: replayed for contract B.
    const other = generateKeyPair().publicKey
    const gone = new Promise<void>((resolve) =>
      tunnel.on('replicas', (k: number) => k === 0 && resolve())
    )
    await n.status.record(
      {
        id,
        state: 'running',
        reason: 'replayed',
        time: Date.now(),
        exitCode: null,
        signal: null,
        stdout: null,
        output: null,
        ports: running.ports,
        restarts: 0,
        pid: null,
        backoff: null
      },
      { contract: other, trade: d.trades[0].id, service: 'echo' }
    )
    await gone
    t.is(tunnel.replicaCount, 0, 'the key is no longer dialled')
    t.ok(
      tunnel.reasons().some((r) => r.includes('signed for another contract')),
      tunnel.reasons().join('; ')
    )
  }
)

sandboxTest(
  'with no live trade to reach, scit connect fails closed within --timeout, saying why',
  async (t) => {
    const { net: tn, w, b, d } = await runningDeployment(t, { template: await echoTemplate(t) })
    await b.trader.end(d, d.trades[0].id, 'fail', 'test: the lease failed, nothing replaces it')
    await waitFor(b, async () => (await w.founder.client.trade(d.trades[0].id))?.state === 'failed')

    const r = await runScit('node', [
      'connect',
      d.contract ?? '',
      '--timeout',
      '3s',
      ...common(tn, w.founder, b.opts.data)
    ])
    t.is(r.code, 1)
    t.ok(/^waiting for a live replica of echo:7000 .*: no live trade/m.test(r.stderr), r.stderr)
    t.ok(
      /^error TIMEOUT: no live replica of echo:7000 .* within 3000 ms: no live trade of echo/m.test(
        r.stderr
      ),
      r.stderr
    )
    t.absent(/^\s+at /m.test(r.stderr), 'no stack')
  }
)

test('a contract core written by an older scit (manifest format 1) is refused: error UNSUPPORTED, exit 1, no stack', async (t) => {
  const tn = await testnet(t)
  const w = await world(t, tn)
  const bot = generateKeyPair()
  const s = await store(t)
  const cw = await writer(t, s, bot)
  const { inst } = await minimalInstance(t)
  const old = { ...inst.manifest, version: 1 }
  const body = encode(headerEncoding, {
    core: cw.core.key,
    manifestHash: manifestHash(old),
    manifest: old,
    trades: []
  })
  await forge(cw, bot, 'contract-header', 0, body)
  const sw = swarm(t, tn, { keyPair: bot })
  sw.on('connection', (conn: SwarmConnection) => {
    conn.on('error', () => {})
    s.replicate(conn)
  })
  await sw.join(approvalsTopic(cw.core.key), { server: true, client: false }).flushed()

  const r = await runScit('node', [
    'connect',
    encodeKey(cw.core.key),
    '--timeout',
    '10s',
    ...common(tn, w.founder, await t.tmp())
  ])
  t.is(r.code, 1)
  t.ok(
    /^error UNSUPPORTED: contract header: manifest: written by an older scit \(format 1\); this scit reads format 3$/m.test(
      r.stderr
    ),
    r.stderr
  )
  t.absent(/^\s+at /m.test(r.stderr), 'no stack')
})
