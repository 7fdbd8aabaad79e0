import test from 'brittle'
import { spawn } from 'child_process'
import { testnet } from './helpers/net'
import { world, node, bot, serviceTemplate } from './helpers/deploy'
import { SCIT } from './helpers/node-process'
import { deploy, stop, scale, update, resume } from '../bot/deployment'
import { encodeKey } from '../lib/keys'
import type { Bot } from '../bot/bot'
import type { DeploymentRecord } from '../bot/state'

/** What the market and the contract core hold for `d`: none of it may move when a command is refused. */
async function footprint (b: Bot, d: DeploymentRecord): Promise<{ balance: number, bids: number, trades: number, core: number }> {
  return {
    balance: await b.client.balance(b.key),
    bids: (await b.client.bids({ bot: b.key })).length,
    trades: (await b.client.trades({ bot: b.key })).length,
    core: (await b.writer(d)).core.length
  }
}

/** Run the built `scit` binary as a user does; resolves with its exit code and output. */
function scitBinary (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCIT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (x: Buffer) => { stdout += x.toString() })
    child.stderr.on('data', (x: Buffer) => { stderr += x.toString() })
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout, stderr }))
  })
}

test('scale, update, stop and resume of a stopped contract are refused with BAD_STATE: nothing bought, nothing appended', async t => {
  const net = await testnet(t)
  const w = await world(t, net)
  await node(t, w)
  await node(t, w)
  const b = await bot(t, w)
  const d = await deploy(b, { template: await serviceTemplate(t, { replicas: 1 }), id: 'gone' })
  await stop(b, d)
  const before = await footprint(b, d)

  await t.exception(scale(b, d, null, 2), /contract gone is stopped: nothing runs to scale/, 'scale is refused')
  await t.exception(update(b, d, { greeting: 'again' }), /contract gone is stopped/, 'update is refused')
  await t.exception(stop(b, d), /contract gone is already stopped/, 'stop says it is stopped already')
  await t.exception(resume(b, d), /contract gone is stopped/, 'resume is refused')
  const codes = await Promise.all([scale(b, d, null, 2), stop(b, d)].map(p => p.then(() => null, (err: { code?: string }) => err.code ?? null)))
  t.alike(codes, ['BAD_STATE', 'BAD_STATE'], 'with the code BAD_STATE')

  t.is(d.phase, 'stopped', 'the contract stays stopped')
  t.alike(await footprint(b, d), before, 'the same balance, no new bid or trade, nothing appended to the contract core')
})

test('the scit binary refuses scale and stop of a stopped contract: exit 1, "error BAD_STATE: …", no stack trace, no bid', async t => {
  const net = await testnet(t)
  const w = await world(t, net)
  await node(t, w)
  await node(t, w)
  const data = await t.tmp()
  const first = await bot(t, w, { data })
  const d = await deploy(first, { template: await serviceTemplate(t, { replicas: 1 }), id: 'gone' })
  await stop(first, d)
  const before = await footprint(first, d)
  await first.close()

  const common = ['--data', data, '--market', encodeKey(w.key), '--bootstrap', net.bootstrap.map(x => `${x.host}:${x.port}`).join(',')]
  const scaled = await scitBinary(['bot', 'scale', 'gone', '2', ...common])
  t.is(scaled.code, 1, 'scale exits 1')
  t.ok(/^error BAD_STATE: contract gone is stopped: nothing runs to scale/m.test(scaled.stderr), scaled.stderr)
  t.absent(/\n\s+at /.test(scaled.stderr), 'no stack trace')
  t.is(scaled.stdout, '', 'nothing on stdout')

  const stopped = await scitBinary(['bot', 'stop', 'gone', ...common])
  t.is(stopped.code, 1, 'stop exits 1')
  t.ok(/^error BAD_STATE: contract gone is already stopped$/m.test(stopped.stderr), stopped.stderr)

  const again = await bot(t, w, { data })
  const d2 = again.state.find('gone')
  t.is(d2.phase, 'stopped', 'still stopped')
  t.alike(await footprint(again, d2), before, 'the same balance, no new bid or trade, nothing appended')
})
