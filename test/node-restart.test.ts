import test from 'brittle'
import fs from 'fs'
import net from 'net'
import path from 'path'
import { spawn, ChildProcess } from 'child_process'
import { testnet } from './helpers/net'
import { until } from './helpers/ledger'
import { bot, workload, manifest, buy, contract, settle, fileOf } from './helpers/node-bot'
import { tmpDir } from './helpers/node'
import { loadIdentity } from '../lib/identity'
import { encodeKey } from '../lib/keys'
import { workloadId } from '../node/contracts'

const SCIT = path.join(__dirname, '..', 'lib', 'cli.js')

/** `scit node start` as its own process; resolves once it printed ready. */
async function startNode (t: test.Assert, args: string[]): Promise<ChildProcess> {
  // --pdeathsig: even if this runner dies mid-test, the node (and, through bwrap, its workloads) goes with it.
  const child = spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', process.execPath, SCIT, 'node', 'start', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  t.teardown(() => stop(child))
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve() })
    child.once('exit', code => reject(new Error(`node exited ${String(code)}: ${err}`)))
  })
  return child
}

function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise(resolve => { child.once('exit', () => resolve()); child.kill('SIGTERM') })
}

test('after kill -9 and a restart on the same data dir, the service runs again and no file is fetched twice', async t => {
  const tn = await testnet(t)
  const b = await bot(t, tn)
  // The service calls home on every start: the test waits on connections, never on time.
  const hellos: string[] = []
  let onHello: (() => void) | null = null
  const socks = new Set<net.Socket>()
  const home = net.createServer(sock => {
    socks.add(sock)
    sock.on('close', () => socks.delete(sock))
    sock.on('data', d => { hellos.push(d.toString()); onHello?.() })
  })
  await new Promise<void>(resolve => home.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { home.close(() => resolve()); for (const s of socks) s.destroy() }))
  const helloCount = (n: number): Promise<void> => new Promise(resolve => {
    if (hellos.length >= n) return resolve()
    onHello = () => { if (hellos.length >= n) resolve() }
  })

  const data = await t.tmp()
  const identity = loadIdentity(data)
  const key = encodeKey(identity.publicKey)
  const workloads = path.join(await tmpDir(t), 'workloads')
  const args = ['--data', data, '--market', encodeKey(b.peer.key), '--bootstrap', tn.bootstrap.map(x => `${x.host}:${x.port}`).join(','),
    '--workloads', workloads, '--cpu', '1', '--memory', '2GiB', '--ssd', '1GiB', '--min-lease', '1']
  const first = await startNode(t, args)
  await until(b.peer, async () => (await b.peer.client.offer(key)) !== null)

  const code = `const s = require("net").connect(Number(process.env.HOME_PORT), "127.0.0.1", () => s.write("hello " + process.pid)); setInterval(() => {}, 1000)`
  const m = manifest(workload({ kind: 'service', ports: [8080], env: { HOME_PORT: String((home.address() as net.AddressInfo).port) }, files: [await fileOf(t, 'main.js', code)] }))
  const trade = await buy(b, m)
  const w = await contract(t, b, m, [trade], { 'main.js': code })
  await settle(b, trade, w, m)
  await helloCount(1)
  const staged = path.join(data, 'files', workloadId({ id: trade } as never), 'main.js')
  const before = fs.statSync(staged)

  first.kill('SIGKILL')
  await new Promise(resolve => first.once('exit', resolve))
  await startNode(t, args)
  await helloCount(2)
  t.is(hellos.length, 2, 'the service ran again after the restart')
  const after = fs.statSync(staged)
  t.is(after.ino, before.ino, 'the staged file is the same file')
  t.is(after.mtimeMs, before.mtimeMs, 'and was not written again')
})
