import test from 'brittle'
import path from 'path'
import fs from 'fs'
import { execFile, spawn } from 'child_process'
import { promisify } from 'util'
import { testnet } from './helpers/net'
import { peer, market, addIndexer, offerOp } from './helpers/ledger'
import { decodeKey } from '../lib/keys'

const run = promisify(execFile)
const SCIT = path.join(__dirname, '..', 'lib', 'cli.js')

test('scit market create, serve (as the only indexer), info, deposit, balance, a refused transfer, and a clean stop on SIGTERM', async (t) => {
  const net = await testnet(t)
  const bootstrap = net.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  const data = await t.tmp()

  const created = JSON.parse(
    (
      await run(process.execPath, [
        SCIT,
        'market',
        'create',
        '--data',
        data,
        '--settlement-window',
        '5m',
        '--json'
      ])
    ).stdout
  )
  t.is(created.settlementWindow, 300_000)
  t.is(
    JSON.parse(fs.readFileSync(path.join(data, 'config.json'), 'utf8')).market,
    created.market,
    'the key is saved to config.json'
  )

  const serve = spawn(
    process.execPath,
    [SCIT, 'market', 'serve', '--data', data, '--bootstrap', bootstrap, '--json'],
    { stdio: ['ignore', 'pipe', 'pipe'] }
  )
  const exited = new Promise<number | null>((resolve) =>
    serve.once('exit', (code) => resolve(code))
  )
  t.teardown(
    async () => {
      if (serve.exitCode === null) {
        serve.kill('SIGKILL')
        await exited
      }
    },
    { order: -2 }
  )
  let out = ''
  const started = await new Promise<{ market: string; role: string; relay: boolean }>(
    (resolve, reject) => {
      serve.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        try {
          resolve(JSON.parse(out))
        } catch {}
      })
      serve.once('exit', (code) => reject(new Error(`serve exited ${code}`)))
    }
  )
  t.is(started.market, created.market)
  t.is(started.role, 'indexer', 'the creator serves as the indexer')
  t.is(started.relay, true, 'and relays ops')

  const bot = await peer(t, net, { market: decodeKey(created.market) })
  await bot.relays?.opened()
  const [id] = await bot.client.submit([offerOp()])
  t.ok(
    (await bot.client.outcome(id, { final: true, timeout: 90_000 })).accepted,
    'an op becomes final: the serve process indexes'
  )
  t.is(bot.relays?.counters.sent, 1, 'through the serve process, as a relay')

  const info = JSON.parse(
    (
      await run(
        process.execPath,
        [SCIT, 'market', 'info', '--data', data, '--bootstrap', bootstrap, '--json'],
        { timeout: 90_000 }
      )
    ).stdout
  )
  t.is(info.market, created.market)
  t.is(info.indexers.length, 1)
  t.is(info.offers, 1, 'info sees the offer (through a temporary store: serve holds the data dir)')

  // The creator is the default faucet: it mints to a key, which can then be read back; a transfer
  // from a key with no funds is refused with the engine's reason and a coded error.
  const to = (
    await run(process.execPath, [SCIT, 'id', '--data', path.join(data, 'other')])
  ).stdout.trim()
  const cli = (...args: string[]) =>
    run(
      process.execPath,
      [SCIT, 'market', ...args, '--bootstrap', bootstrap, '--market', created.market, '--json'],
      { timeout: 90_000 }
    )
  const deposit = JSON.parse((await cli('deposit', to, '5000', '--data', data)).stdout)
  t.is(deposit.balance, 5000, 'a faucet deposit is final and shows in the balance')
  t.is(JSON.parse((await cli('balance', to, '--data', data)).stdout).balance, 5000)
  try {
    await cli('transfer', created.market, '1', '--data', path.join(data, 'empty'))
    t.fail('a transfer without funds succeeded')
  } catch (err) {
    t.ok(
      /^error REJECTED: the transfer was refused \(insufficient-funds\)/m.test(
        (err as { stderr: string }).stderr
      ),
      'a transfer without funds is refused with its reason'
    )
  }

  serve.kill('SIGTERM')
  t.is(await exited, 0, 'serve stops cleanly on SIGTERM')
})

test('a CLI reader catches up with an idle market of three indexers, whose last acks no quorum signs', async (t) => {
  const net = await testnet(t)
  const bootstrap = net.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  const a = await market(t, net)
  const b = await peer(t, net, { market: a.key })
  const c = await peer(t, net, { market: a.key })
  await addIndexer([a], b)
  await addIndexer([a, b], c)
  const to = (await run(process.execPath, [SCIT, 'id', '--data', await t.tmp()])).stdout.trim()
  for (const amount of [100, 200, 300]) {
    const [o] = await a.client.submitAndWait([
      { type: 'deposit', body: { to: decodeKey(to), amount } }
    ])
    t.ok(o.accepted, `deposit of ${amount} final`)
  }
  const { stdout } = await run(
    process.execPath,
    [
      SCIT,
      'market',
      'balance',
      to,
      '--data',
      await t.tmp(),
      '--bootstrap',
      bootstrap,
      '--market',
      a.key.toString('hex'),
      '--json'
    ],
    { timeout: 60_000 }
  )
  t.is(JSON.parse(stdout).balance, 600, 'the reader sees every final deposit, and returns')
})
