/**
 * A node daemon whose market is away (found by the soak): started while an indexer is cut off, it exited with
 * TIMEOUT and stayed down; told to stop while no indexer answered, it never exited. It waits for the market,
 * says so, sells once the market decides again, and stops when told.
 */
import path from 'path'
import safetyCatch from 'safety-catch'
import { testnet } from './helpers/net'
import { market, peer, until, addIndexer } from './helpers/ledger'
import { startNode, spawnNode, stopNode, nodeArgs } from './helpers/node-process'
import { tmpDir } from './helpers/node'
import { sandboxTest } from './helpers/sandbox'
import { generateKeyPair, loadIdentity } from '../lib/identity'
import { encodeKey } from '../lib/keys'
import { lastSeqInView } from '../market/seq'

sandboxTest(
  'a node started while its market cannot decide ops (an indexer of two gone) starts, and its offer is decided once the indexer is back',
  { timeout: 240_000 },
  async (t) => {
    const net = await testnet(t)
    const a = await market(t, net)
    const data = await t.tmp()
    const identity = generateKeyPair()
    const b = await peer(t, net, { market: a.key, data, identity })
    await addIndexer([a], b)
    // The view of the two indexers signed once, so a follower can join it; then b goes: no quorum.
    await a.client.submitAndWait([{ type: 'deposit', body: { to: identity.publicKey, amount: 1 } }])
    const view = a.full.base.view.core
    await until(a, async () => view.signedLength >= view.length)
    await b.close()

    const dir = await t.tmp()
    const key = encodeKey(loadIdentity(dir).publicKey)
    // its offer undecided for 5 s (not the default 30) is what lets it go on: that it starts is what is checked
    const args = nodeArgs(dir, a.key, net, path.join(await tmpDir(t), 'workloads'))
    const n = await startNode(t, [...args, '--op-timeout', '5s'])
    t.ok(
      /the offer is not decided yet/.test(n.stderr()),
      'it started, saying its offer is not decided yet'
    )
    t.is(n.child.exitCode, null, 'and runs')

    const back = await peer(t, net, { market: a.key, data, identity })
    await until(back, async () => (await back.client.offer(key)) !== null)
    t.pass('with the indexer back, the market decided the offer it had kept sending')
  }
)

sandboxTest(
  'a node started while no indexer of its market is online waits for one, saying so, past the join timeout a command gives up after',
  { timeout: 240_000 },
  async (t) => {
    const net = await testnet(t)
    const data = await t.tmp()
    const identity = generateKeyPair()
    const a = await market(t, net, { data, identity })
    const key = a.key
    await a.close()

    const dir = await t.tmp()
    // The join timeout a one-off command gives up after (default 30 s) is 5 s here: the node is given it too.
    const n = spawnNode(t, nodeArgs(dir, key, net, path.join(await tmpDir(t), 'workloads')), {
      env: { ...process.env, SCIT_JOIN_TIMEOUT: '5s' }
    })
    const ready = new Promise<void>((resolve) =>
      n.child.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) resolve()
      })
    )
    // Its own progress line (no "of N": no timeout), past the 5 s after which a one-off command gives up.
    await new Promise<void>((resolve) => {
      n.child.stderr?.on('data', () => {
        if (/waiting for market \S+ \(([7-9]|\d{2,}) s\)/.test(n.stderr())) resolve()
      })
      void n.exited.then(() => resolve())
    })
    t.is(n.child.exitCode, null, 'it still runs, waiting')
    const back = await peer(t, net, { market: key, data, identity })
    await ready
    const node = encodeKey(loadIdentity(dir).publicKey)
    await until(back, async () => (await back.client.offer(node)) !== null)
    t.pass('the indexer is back: the node joined and its offer is on the market')
  }
)

sandboxTest(
  'a node whose market went away stops when told: SIGTERM, and it exits 0',
  { timeout: 240_000 },
  async (t) => {
    const net = await testnet(t)
    const a = await market(t, net)
    const n = await startNode(
      t,
      nodeArgs(await t.tmp(), a.key, net, path.join(await tmpDir(t), 'workloads'))
    )
    await a.close()
    const exit = await stopNode(n)
    t.is(exit.code, 0, 'it exited 0 without its market')
  }
)

sandboxTest(
  'a node restarted while the withdrawal it sent as it stopped is not decided yet sells again: its offer-update, chosen on a view behind that withdrawal and refused, is tried again as an offer',
  { timeout: 240_000 },
  async (t) => {
    const net = await testnet(t)
    const a = await market(t, net)
    const data = await t.tmp()
    const identity = generateKeyPair()
    const b = await peer(t, net, { market: a.key, data, identity })
    await addIndexer([a], b)
    const dir = await t.tmp()
    const node = loadIdentity(dir).publicKey
    const key = encodeKey(node)
    const args = nodeArgs(dir, a.key, net, path.join(await tmpDir(t), 'workloads'))
    const n = await startNode(t, args)
    const view = a.full.base.view.core
    await until(a, async () => (await a.client.offer(key)) !== null)
    await until(a, async () => view.signedLength >= view.length)
    const offered = await lastSeqInView(a.ledger, node)

    // b goes: the withdrawal the node sends as it stops reaches a, and is not final
    await b.close()
    await stopNode(n)
    t.ok(/not final yet/.test(n.stderr()), 'it stopped with its withdrawal undecided')
    await until(a, async () => (await lastSeqInView(a.ledger, node)) > offered)

    // started again, re-priced: its view shows the offer live, so it sends an offer-update after the withdrawal
    const repriced = [...args.slice(0, args.indexOf('--price-cpu')), '--price-cpu', '120']
    const started = startNode(t, repriced)
    started.catch(safetyCatch) // awaited below
    await until(a, async () => (await lastSeqInView(a.ledger, node)) > offered + 1)
    const back = await peer(t, net, { market: a.key, data, identity })
    await started // before: exit 1, "error REJECTED: … has no live offer to update"
    await until(back, async () => {
      const o = await back.client.offer(key)
      return o !== null && !o.withdrawn && o.prices.cpu === 120
    })
    t.pass(
      'the withdrawal decided, then the refused update, the node offered again at its new price'
    )
  }
)
