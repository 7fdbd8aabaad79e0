/**
 * The soak's idx1 "exited (0) before it was ready": a full ledger restarted on a data dir whose view blocks are on
 * its peers only (as a fast-forward leaves them) read its view before its swarm existed, and waited on nothing.
 */
import test from 'brittle'
import Corestore from 'corestore'
import path from 'path'
import { spawn } from 'child_process'
import { testnet, swarm } from './helpers/net'
import { market, history } from './helpers/ledger'
import { endChild, tieToRunner } from './helpers/child'
import { SCIT } from './helpers/runtime'
import { MarketPeer } from '../market/peer'
import { Ledger } from '../market/ledger'
import { generateKeyPair } from '../lib/identity'
import { encodeKey } from '../lib/keys'
import { within } from '../lib/timeout'

test('scit market serve restarted on a view whose blocks are on its peers only starts, and reads them from its peers', async (t) => {
  const net = await testnet(t)
  const founder = await market(t, net)
  await history(founder, 40)
  const data = await t.tmp()
  const peer = new MarketPeer({
    data,
    identity: generateKeyPair(),
    market: founder.key,
    swarm: swarm(t, net)
  })
  t.teardown(() => peer.close(), { order: -1 })
  await peer.ready()
  const signed = founder.ledger.view.core.signedLength
  // polled, bounded: an idle founder emits no update to wait on. And until a fast-forward has ended: its target's
  // view core may not be on disk yet (once, with a CPU-heavy test beside it: the core read back below was empty)
  const behind = (): boolean =>
    peer.ledger.view.core.length < signed ||
    (peer.ledger instanceof Ledger && peer.ledger.base.isFastForwarding())
  for (let i = 0; i < 300 && behind(); i++) {
    await peer.ledger.update()
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  t.ok(peer.ledger.view.core.length >= signed, 'the peer caught up with the market')
  const view = peer.ledger.view.core.key
  await peer.close()
  // the view's blocks gone from this disk, kept by the founder
  const store = new Corestore(path.join(data, 'market'))
  const core = store.get({ key: view })
  await core.ready()
  const length = core.length
  t.ok(length > 0, `its view is on this disk: ${length} blocks`)
  await core.clear(0, length)
  t.absent(
    length > 0 && (await core.has(length - 1)),
    `its view (${length} blocks) holds none of them`
  )
  await core.close()
  await store.close()

  const bootstrap = net.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  const serve = spawn(
    process.execPath,
    [
      SCIT,
      'market',
      'serve',
      '--data',
      data,
      '--market',
      encodeKey(founder.key),
      '--bootstrap',
      bootstrap,
      '--json'
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] }
  )
  tieToRunner(serve)
  t.teardown(() => endChild(serve), { order: -2 })
  let out = ''
  let err = ''
  serve.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const started = new Promise<string>((resolve) => {
    serve.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(out)
    })
    serve.once('exit', (code) => resolve(`exited (${String(code)}): ${err}`))
  })
  const line = await within(started, 60_000, 'scit market serve printed nothing')
  t.is(
    JSON.parse(line.startsWith('{') ? line : '{}').market,
    encodeKey(founder.key),
    `it serves: ${line.trim()}`
  )
})
