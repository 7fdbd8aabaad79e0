import test from 'brittle'
import fs from 'fs'
import path from 'path'
import { execFile } from 'child_process'
import { promisify } from 'util'
import { testnet } from './helpers/net'
import { market, offered } from './helpers/ledger'
import { node as worldNode, bot as worldBot } from './helpers/deploy'
import {
  node,
  workload,
  manifest,
  buy,
  contract,
  settle,
  fileOf,
  nodeTransition,
  ended,
  keyOf,
  TestBot
} from './helpers/node-bot'
import { tmpDir } from './helpers/node'
import { loadIdentity, IDENTITY_FILE } from '../lib/identity'
import { openDataDir } from '../lib/datadir'
import { isScitError } from '../lib/errors'
import { workloadId } from '../lib/trade-workload'
import type { NodeDaemon } from '../node/daemon'
import type { Transition } from '../node/workload'
import { sandboxTest } from './helpers/sandbox'

const run = promisify(execFile)
const SCIT = path.join(__dirname, '..', 'lib', 'cli.js')

/** A directory as `mkdir` under the usual umask 022 leaves it: 0755. */
function preCreated(dir: string): string {
  fs.mkdirSync(dir, { recursive: true })
  fs.chmodSync(dir, 0o755)
  return dir
}

/** Every path under `dir` (itself included) whose mode gives group or others any bit, as "relative mode". */
function exposed(dir: string): string[] {
  const out: string[] = []
  const walk = (p: string): void => {
    const st = fs.lstatSync(p)
    if (st.isSymbolicLink()) return
    if ((st.mode & 0o077) !== 0)
      out.push(`${path.relative(dir, p) || '.'} ${(st.mode & 0o777).toString(8)}`)
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e))
  }
  walk(dir)
  return out
}

function files(dir: string): number {
  let n = 0
  const walk = (p: string): void => {
    for (const e of fs.readdirSync(p, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(p, e.name))
      else n++
    }
  }
  walk(dir)
  return n
}

/** Run as a process with the common umask 022, as a library user's would be; restored at teardown. */
/** Buy, write and settle a one-file job (main.js) on `n`; resolves with the transition that ends its run. */
async function runJob(
  t: test.Assert,
  seller: TestBot,
  n: NodeDaemon,
  code: string
): Promise<Transition> {
  const m = manifest(workload({ files: [await fileOf(t, 'main.js', code)] }))
  const trade = await buy(seller, m)
  const c = await contract(t, seller, m, [trade], { 'main.js': code })
  const done = nodeTransition(n, workloadId({ id: trade }), ended)
  await settle(seller, trade, c, m)
  return await done
}

function commonUmask(t: test.Assert): void {
  const old = process.umask(0o022)
  t.teardown(() => {
    process.umask(old)
  })
}

sandboxTest(
  'a node, a bot and a market peer on 0755 data dirs leave nothing in them that group or others can read',
  async (t) => {
    commonUmask(t)
    const parent = await t.tmp()
    const dirs = {
      market: preCreated(path.join(parent, 'market')),
      node: preCreated(path.join(parent, 'node')),
      bot: preCreated(path.join(parent, 'bot'))
    }
    const net = await testnet(t)
    const founder = await market(t, net, { data: dirs.market })
    const w = { net, founder, key: founder.key }
    const n = await worldNode(t, w, { data: dirs.node })
    const b = await worldBot(t, w, { data: dirs.bot })

    // The node runs a job, so that its stores, staging and snapshot are all written to.
    const seller: TestBot = {
      peer: founder,
      identity: founder.identity ?? loadIdentity(dirs.market)
    }
    const [dep] = await founder.client.submitAndWait([
      { type: 'deposit', body: { to: seller.identity.publicKey, amount: 1_000_000 } }
    ])
    t.ok(dep.accepted, 'the founder funds itself to buy')
    t.is((await runJob(t, seller, n, 'console.log("ran")')).state, 'exited')

    await b.close()
    await n.close()
    await founder.close()
    for (const [who, dir] of Object.entries(dirs)) {
      t.ok(files(dir) > 5, `${who}: its stores were written (${files(dir)} files)`)
      t.alike(exposed(dir), [], `${who}: no file or dir under ${who}/ has a group or other bit`)
    }
  }
)

sandboxTest(
  'as root with work dirs inside the data dir (the README setup), the data dir is only searchable and the workload still runs',
  { skip: process.getuid?.() !== 0 },
  async (t) => {
    commonUmask(t)
    const data = preCreated(path.join(await tmpDir(t), 'scit'))
    const net = await testnet(t)
    const identity = (await import('../lib/identity')).generateKeyPair()
    const peer = await market(t, net, { identity })
    const [dep] = await peer.client.submitAndWait([
      { type: 'deposit', body: { to: identity.publicKey, amount: 1_000_000 } }
    ])
    t.ok(dep.accepted)
    const seller: TestBot = { peer, identity }
    const n = await node(t, net, seller, { data, workloads: path.join(data, 'workloads') })
    await offered(peer, keyOf(n))
    const tr = await runJob(
      t,
      seller,
      n,
      'require("fs").writeFileSync("out.txt", "x"); console.log("ran")'
    )
    t.is(tr.state, 'exited', `the sandbox user reached its work dir: ${tr.reason}`)
    await n.close()
    t.alike(
      exposed(data).sort(),
      ['. 711', 'workloads 711'],
      'only search bits, and only on the way to the work dirs'
    )
  }
)

test('an existing data dir others can read is made owner-only, with its entries; a readable key is still refused, not fixed', async (t) => {
  commonUmask(t)
  const dir = preCreated(path.join(await t.tmp(), 'data'))
  loadIdentity(dir)
  t.is(fs.statSync(dir).mode & 0o777, 0o700, 'the dir itself')
  fs.chmodSync(dir, 0o755)
  fs.writeFileSync(path.join(dir, 'config.json'), '{}', { mode: 0o644 })
  fs.chmodSync(path.join(dir, 'config.json'), 0o644)
  preCreated(path.join(dir, 'corestore'))
  fs.chmodSync(path.join(dir, IDENTITY_FILE), 0o644)
  try {
    openDataDir(dir)
    loadIdentity(dir)
    t.fail('loaded a key others could read')
  } catch (err) {
    t.ok(isScitError(err, 'KEYSTORE'), (err as Error).message)
  }
  t.alike(
    exposed(dir),
    [`${IDENTITY_FILE} 644`],
    'everything but the key is owner-only; the key is left for a person to judge'
  )
  t.is(process.umask(0o022), 0o077, 'and the process creates owner-only files from now on')
})

test('scit id on a 0755 data dir makes it owner-only', async (t) => {
  const dir = preCreated(path.join(await t.tmp(), 'data'))
  await run(process.execPath, [SCIT, 'id', '--data', dir])
  t.alike(exposed(dir), [])
})

test('a folder of other files is refused as --data, untouched: INVALID_CONFIG, exit 1, nothing chmodded', async (t) => {
  const dir = preCreated(path.join(await t.tmp(), 'src'))
  fs.writeFileSync(path.join(dir, 'cli.ts'), 'export {}\n', { mode: 0o644 })
  fs.chmodSync(path.join(dir, 'cli.ts'), 0o644)
  const refused = await run(process.execPath, [SCIT, 'id', '--data', dir]).then(
    () => null,
    (err: { code: number; stderr: string }) => err
  )
  t.is(refused?.code, 1)
  t.ok(
    /^error INVALID_CONFIG: \S+ is not a scit data directory: it holds 1 other entries \(cli\.ts\)/m.test(
      refused?.stderr ?? ''
    ),
    refused?.stderr
  )
  t.absent(/\n\s+at /.test(refused?.stderr ?? ''), 'no stack')
  t.alike(exposed(dir).sort(), ['. 755', 'cli.ts 644'], 'the folder and its file keep their modes')
  t.absent(fs.existsSync(path.join(dir, IDENTITY_FILE)), 'no key written into it')

  fs.mkdirSync(path.join(dir, 'market'))
  fs.writeFileSync(path.join(dir, 'market', 'CORESTORE'), '')
  await run(process.execPath, [SCIT, 'id', '--data', dir])
  t.ok(fs.existsSync(path.join(dir, IDENTITY_FILE)), 'a folder holding a store scit wrote is one')
})
