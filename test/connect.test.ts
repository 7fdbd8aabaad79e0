import test from 'brittle'
import net from 'net'
import { testnet } from './helpers/net'
import { world, node, bot, jobTemplate, healed, runningDeployment } from './helpers/deploy'
import { tmpDir, supervisor, spec } from './helpers/node'
import { scit, common, funded } from './helpers/cli'
import { scitProcess } from './helpers/bot-process'
import { sandboxTest } from './helpers/sandbox'
import { echoTemplate, accepted, applied, echo, connectProcess } from './helpers/reach'
import { crmTemplate } from './helpers/state'
import { deploy, waitRunning, stop } from '../bot/deployment'
import { grantAccess } from '../bot/access'
import { loadIdentity, generateKeyPair } from '../lib/identity'
import { encodeKey, decodeKey } from '../lib/keys'
import { isScitError } from '../lib/errors'
import { workloadId } from '../lib/trade-workload'
import { freePort } from '../node/workload'
import { Tunnel } from '../connect/tunnel'
import { request, whenUp } from '../examples/demo/http'

interface Contact {
  id: string
  name: string
}

sandboxTest(
  'a CRM deployed by a bot is reached by scit connect, a process with its own DHT node and identity: a contact added through it is read back',
  async (t) => {
    const user = await t.tmp()
    const template = await crmTemplate(t, {
      access: ['bot', encodeKey(loadIdentity(user).publicKey)]
    })
    const { w, d } = await runningDeployment(t, { template })

    const c = await connectProcess(t, w, user, d.contract ?? '')
    const url = `http://127.0.0.1:${c.port}`
    const added = await whenUp<Contact>('POST', `${url}/contacts`, {
      name: 'Ada Lovelace',
      email: 'ada@example.com'
    })
    t.is(added.status, 201, 'the CRM stored the contact')
    const list = await request<Contact[]>('GET', `${url}/contacts`)
    t.ok(
      list.body.some((x) => x.id === added.body.id && x.name === 'Ada Lovelace'),
      'and lists it, read back through the tunnel'
    )
  }
)

sandboxTest(
  'a key not on the access list is refused before the workload sees a connection; a grant lets it in, a revoke refuses it again',
  async (t) => {
    const {
      net: tn,
      w,
      nodes: [n],
      b,
      d
    } = await runningDeployment(t, { template: await echoTemplate(t) })
    const id = workloadId({ id: d.trades[0].id })
    const service = n.services.keyPair(id, 7000).publicKey
    const stranger = generateKeyPair()
    const dht = tn.createNode()
    t.teardown(() => dht.destroy())

    t.ok(
      await echo(dht, service, b.identity),
      'the bot is let in by default (it and its stakeholders)'
    )
    t.is(accepted(n, id), 1)
    t.absent(await echo(dht, service, stranger), "a stranger is refused by the node's DHT firewall")
    t.is(accepted(n, id), 1, 'the workload saw no connection from it')
    const tunnel = new Tunnel({
      contract: decodeKey(d.contract ?? ''),
      market: w.key,
      keyPair: stranger,
      dht: tn.createNode()
    })
    const refusal = await tunnel.ready().then(
      () => null,
      (err: unknown) => err
    )
    t.ok(
      isScitError(refusal, 'ACCESS'),
      `scit connect says ACCESS at once, from the contract: ${(refusal as Error | null)?.message ?? 'no error'}`
    )

    await grantAccess(b, d, stranger.publicKey, null)
    await applied(n, id, stranger.publicKey, true)
    t.ok(await echo(dht, service, stranger), 'after a signed grant in the contract core it gets in')
    t.is(accepted(n, id), 2)

    await grantAccess(b, d, stranger.publicKey, 'echo', true)
    await applied(n, id, stranger.publicKey, false)
    t.absent(await echo(dht, service, stranger), 'after a revoke it is refused again')
    t.is(accepted(n, id), 2, 'and the workload saw nothing of it')
  }
)

sandboxTest(
  "a workload cannot connect to another workload's port, nor to a server on the host loopback, nor listen where the host can reach it",
  async (t) => {
    const host = net.createServer((s) => s.end('host'))
    await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => host.close(() => resolve())))
    const hostPort = (host.address() as net.AddressInfo).port
    const [aPort, bPort] = [await freePort(), await freePort()]
    const s = supervisor(t, await tmpDir(t))
    const up = (id: string, text: string): Promise<string> =>
      new Promise((resolve) => {
        let out = ''
        const on = (e: { id: string; data: Buffer }): void => {
          if (e.id !== id) return
          out += e.data.toString()
          if (out.includes(text)) {
            s.off('log', on)
            resolve(out)
          }
        }
        s.on('log', on)
      })
    const aUp = up('a', 'a up')
    await s.start(
      spec('a', {
        kind: 'service',
        ports: [aPort],
        command: [
          'node',
          '-e',
          `require("net").createServer(c => c.end("a")).listen(${aPort}, "127.0.0.1", () => console.log("a up")); setInterval(() => {}, 1000)`
        ]
      })
    )
    await aUp
    const probe = `const net = require("net")
const dial = port => new Promise(r => { const c = net.connect(port, "127.0.0.1"); c.on("data", d => { r(String(d)); c.destroy() }); c.on("error", e => r(e.code)) })
Promise.all([dial(${aPort}), dial(${hostPort})]).then(([a, host]) => net.createServer(c => c.end("b")).listen(${bPort}, "0.0.0.0", () => console.log(JSON.stringify({ a, host }))))
setInterval(() => {}, 1000)`
    const bUp = up('b', '}')
    await s.start(spec('b', { kind: 'service', ports: [], command: ['node', '-e', probe] }))
    const seen = JSON.parse(await bUp) as { a: string; host: string }
    t.is(seen.a, 'ECONNREFUSED', "the other workload's port is not reachable from this one")
    t.is(seen.host, 'ECONNREFUSED', "the host's loopback is not reachable")
    const fromHost = await new Promise<string>((resolve) => {
      const c = net.connect(bPort, '127.0.0.1')
      c.on('data', (d) => {
        resolve(String(d))
        c.destroy()
      })
      c.on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message))
    })
    t.is(fromHost, 'ECONNREFUSED', 'what the workload listens on is not reachable from the host')
    await s.stop('a')
    await s.stop('b')
  }
)

sandboxTest(
  "the CRM's node stops, the bot heals it onto another node, and the same scit connect process serves it again",
  async (t) => {
    const user = await t.tmp()
    const template = await crmTemplate(t, {
      access: ['bot', encodeKey(loadIdentity(user).publicKey)]
    })
    const { w, nodes, b, d } = await runningDeployment(t, { template, nodes: 2 })
    const c = await connectProcess(t, w, user, d.contract ?? '')
    const url = `http://127.0.0.1:${c.port}`
    t.ok((await whenUp<{ ok: boolean }>('GET', `${url}/health`)).body.ok, 'the CRM answers before')

    const victim = nodes.find((n) => n.key === d.trades[0].node)
    if (!victim) return t.fail('the CRM runs on no node of the test')
    const done = healed(b)
    b.monitor.start()
    await victim.close()
    t.ok((await done).startsWith('healed'), 'the bot healed the CRM')
    await waitRunning(b, d)
    t.ok(
      (await whenUp<{ ok: boolean }>('GET', `${url}/health`)).body.ok,
      'the CRM answers after, at the same local address'
    )
    t.is(c.child.exitCode, null, 'from the same scit connect process, never restarted')
  }
)

sandboxTest(
  'scit connect refuses bad input with a clear error and exit 1: a malformed key, an unknown contract, a contract with no service',
  async (t) => {
    const tn = await testnet(t)
    const w = await world(t, tn)
    await node(t, w)
    const b = await bot(t, w)
    const data = await t.tmp()
    const args = common(tn, w.founder, data)

    const bad = await scit(['connect', 'not-a-key', ...args])
    t.is(bad.code, 1)
    t.ok(/^error INVALID_KEY: contract key must be/m.test(bad.stderr), bad.stderr.trim())

    const unknown = await scit([
      'connect',
      encodeKey(generateKeyPair().publicKey),
      '--timeout',
      '2s',
      ...args
    ])
    t.is(unknown.code, 1)
    t.ok(/^error NOT_FOUND: unknown contract/m.test(unknown.stderr), unknown.stderr.trim())

    const job = await deploy(b, { template: await jobTemplate(t) })
    const none = await scit(['connect', job.contract ?? '', ...args])
    t.is(none.code, 1)
    t.ok(/^error NOT_FOUND: contract .* has no service/m.test(none.stderr), none.stderr.trim())

    const badService = await scit(['connect', job.contract ?? '', 'web:99999', ...args])
    t.is(badService.code, 1)
    t.ok(
      /^error INVALID_ARGUMENT: "web:99999" is not WORKLOAD\[:PORT\]/m.test(badService.stderr),
      badService.stderr.trim()
    )
  }
)

test('without a sandbox a service listens on a loopback port only the node knows, and is still reached only through the DHT', async (t) => {
  const tn = await testnet(t)
  const w = await world(t, tn)
  const n = await node(t, w, { unsafeNoSandbox: true })
  const b = await bot(t, w)
  const d = await deploy(b, { template: await echoTemplate(t) })
  await waitRunning(b, d)
  const id = workloadId({ id: d.trades[0].id })
  const ep = n.supervisor.get(id)?.endpoints[0]
  t.is(ep?.socket, null, 'no bridge socket: there is no namespace to bridge')
  t.ok(
    ep?.tcp !== null && ep?.tcp !== 7000,
    `a loopback port the node chose (${String(ep?.tcp)}), not the declared one`
  )
  const dht = tn.createNode()
  t.teardown(() => dht.destroy())
  t.ok(
    await echo(dht, n.services.keyPair(id, 7000).publicKey, b.identity),
    'the bot reaches it through the DHT'
  )
  t.absent(
    await echo(dht, n.services.keyPair(id, 7000).publicKey, generateKeyPair()),
    'a stranger does not'
  )
})

sandboxTest(
  'scit bot grant and revoke, as a user runs them: the node lets the key in, then refuses it; a malformed key or an unknown service is refused with a clear error, exit 1',
  async (t) => {
    const tn = await testnet(t)
    const w = await world(t, tn)
    const n = await node(t, w)
    const { data } = await funded(t, w.founder)
    const args = common(tn, w.founder, data)
    const dep = await scit([
      'bot',
      'deploy',
      await echoTemplate(t),
      '--id',
      'echo',
      '--wait',
      'running',
      '--json',
      ...args
    ])
    t.is(dep.code, 0, dep.stderr)
    const out = JSON.parse(dep.stdout) as { contract: string; trades: Array<{ id: string }> }
    const id = workloadId({ id: out.trades[0].id })
    const guestData = await t.tmp()
    const guest = loadIdentity(guestData)
    t.absent(n.allows(id, guest.publicKey))

    // the guest, refused, is told the contract and the command its bot runs to let it in: that command works
    const refused = await scitProcess([
      'connect',
      out.contract,
      ...common(tn, null, guestData),
      '--market',
      encodeKey(w.key)
    ])
    t.is(refused.code, 1)
    const told =
      /^error ACCESS: .* of contract (\S+): its bot can allow it \(scit bot grant (\S+) (\S+) --workload (\S+)\)$/m.exec(
        refused.stderr
      )
    t.ok(told, refused.stderr.trim())
    if (told === null) return
    t.is(told[1], out.contract, 'the message names the contract')
    t.alike(
      told.slice(2),
      [out.contract, encodeKey(guest.publicKey), 'echo'],
      'and a grant of this key to this service'
    )
    const granted = await scit([
      'bot',
      'grant',
      ...told.slice(2, 4),
      '--workload',
      told[4],
      '--json',
      ...args
    ])
    t.is(granted.code, 0, granted.stderr)
    t.alike(
      (JSON.parse(granted.stdout) as { pending: string[] }).pending,
      [],
      'the node had the instruction before the command returned'
    )
    await applied(n, id, guest.publicKey, true)
    const dht = tn.createNode()
    t.teardown(() => dht.destroy())
    t.ok(await echo(dht, n.services.keyPair(id, 7000).publicKey, guest), 'the granted key gets in')

    const revoked = await scit(['bot', 'revoke', 'echo', encodeKey(guest.publicKey), ...args])
    t.is(revoked.code, 0, revoked.stderr)
    t.ok(revoked.stdout.startsWith('revoked: '), revoked.stdout.trim())
    await applied(n, id, guest.publicKey, false)

    const bad = await scit(['bot', 'grant', 'echo', 'not-a-key', ...args])
    t.is(bad.code, 1)
    t.ok(/^error INVALID_KEY: key to grant must be/m.test(bad.stderr), bad.stderr.trim())
    const unknown = await scit([
      'bot',
      'grant',
      'echo',
      encodeKey(guest.publicKey),
      '--workload',
      'web',
      ...args
    ])
    t.is(unknown.code, 1)
    t.ok(
      /^error INVALID_ARGUMENT: contract echo has no service "web": its services are echo/m.test(
        unknown.stderr
      ),
      unknown.stderr.trim()
    )
  }
)

sandboxTest(
  'scit connect says connected (-v: each replica), and once the bot stops the contract it exits with error STOPPED and its open connections close at once',
  async (t) => {
    const tn = await testnet(t)
    const w = await world(t, tn)
    await node(t, w)
    const b = await bot(t, w)
    const d = await deploy(b, { template: await echoTemplate(t) })
    await waitRunning(b, d)
    const c = await connectProcess(t, w, b.opts.data, d.contract ?? '', ['-v'])
    const exited = new Promise<number | null>((resolve) => c.child.once('exit', resolve))
    const open = net.connect(c.port, '127.0.0.1')
    open.on('error', () => {})
    const closed = new Promise<void>((resolve) => open.once('close', () => resolve()))
    await new Promise<void>((resolve) => {
      open.once('data', () => resolve())
      open.write('ping')
    })
    t.ok(/^connected: 1 live replica of echo:7000 of contract /m.test(c.stderr()), c.stderr())
    t.ok(
      /^replica \S+ authenticated: node \S+ signed it for trade /m.test(c.stderr()),
      '-v: the replica'
    )

    await stop(b, d)
    t.is(await exited, 1, 'connect exits once the contract is stopped')
    t.ok(
      /^error STOPPED: contract \S+ is stopped: its bot signed a stop instruction/m.test(
        c.stderr()
      ),
      c.stderr()
    )
    await closed
    t.pass('the connection that was open is closed, not left hanging')

    const again = await scitProcess([
      'connect',
      d.contract ?? '',
      ...common(w.net, null, b.opts.data),
      '--market',
      encodeKey(w.key)
    ])
    t.is(again.code, 1, 'a new connect to the stopped contract exits at once')
    t.ok(/^error STOPPED: contract \S+ is stopped/m.test(again.stderr), again.stderr)
  }
)
