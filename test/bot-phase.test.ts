import test from 'brittle'
import { sandboxTest } from './helpers/sandbox'
import { spawn } from 'child_process'
import { testnet } from './helpers/net'
import { world, node, bot, serviceTemplate } from './helpers/deploy'
import { SCIT } from './helpers/node-process'
import { deploy, stop, scale, update, resume } from '../bot/deployment'
import { encodeKey } from '../lib/keys'
import type { Bot } from '../bot/bot'
import type { DeploymentRecord } from '../bot/records'
import { requirePhase, Command } from '../bot/phase'

/** What the market and the contract core hold for `d`: none of it may move when a command is refused. */
async function footprint(
  b: Bot,
  d: DeploymentRecord
): Promise<{ balance: number; bids: number; trades: number; core: number }> {
  return {
    balance: await b.client.balance(b.key),
    bids: (await b.client.bids({ bot: b.key })).length,
    trades: (await b.client.trades({ bot: b.key })).length,
    core: (await b.writer(d)).core.length
  }
}

/** Run the built `scit` binary as a user does; resolves with its exit code and output. */
function scitBinary(
  args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCIT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (x: Buffer) => {
      stdout += x.toString()
    })
    child.stderr.on('data', (x: Buffer) => {
      stderr += x.toString()
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

sandboxTest(
  'scale, update, stop and resume of a stopped contract are refused with BAD_STATE: nothing bought, nothing appended',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    await node(t, w)
    await node(t, w)
    const b = await bot(t, w)
    const d = await deploy(b, { template: await serviceTemplate(t, { replicas: 1 }), id: 'gone' })
    await stop(b, d)
    const before = await footprint(b, d)

    await t.exception(
      scale(b, d, null, 2),
      /contract gone is stopped: nothing runs to scale/,
      'scale is refused'
    )
    await t.exception(
      update(b, d, { greeting: 'again' }),
      /contract gone is stopped/,
      'update is refused'
    )
    await t.exception(
      stop(b, d),
      /contract gone is already stopped/,
      'stop says it is stopped already'
    )
    await t.exception(resume(b, d), /contract gone is stopped/, 'resume is refused')
    const codes = await Promise.all(
      [scale(b, d, null, 2), stop(b, d)].map((p) =>
        p.then(
          () => null,
          (err: { code?: string }) => err.code ?? null
        )
      )
    )
    t.alike(codes, ['BAD_STATE', 'BAD_STATE'], 'with the code BAD_STATE')

    t.is(d.phase, 'stopped', 'the contract stays stopped')
    t.alike(
      await footprint(b, d),
      before,
      'the same balance, no new bid or trade, nothing appended to the contract core'
    )
  }
)

sandboxTest(
  'the scit binary refuses scale and stop of a stopped contract: exit 1, "error BAD_STATE: …", no stack trace, no bid',
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    await node(t, w)
    await node(t, w)
    const data = await t.tmp()
    const first = await bot(t, w, { data })
    const d = await deploy(first, {
      template: await serviceTemplate(t, { replicas: 1 }),
      id: 'gone'
    })
    await stop(first, d)
    const before = await footprint(first, d)
    await first.close()

    const common = [
      '--data',
      data,
      '--market',
      encodeKey(w.key),
      '--bootstrap',
      net.bootstrap.map((x) => `${x.host}:${x.port}`).join(',')
    ]
    const scaled = await scitBinary(['bot', 'scale', 'gone', '2', ...common])
    t.is(scaled.code, 1, 'scale exits 1')
    t.ok(
      /^error BAD_STATE: contract gone is stopped: nothing runs to scale/m.test(scaled.stderr),
      scaled.stderr
    )
    t.absent(/\n\s+at /.test(scaled.stderr), 'no stack trace')
    t.is(scaled.stdout, '', 'nothing on stdout')

    const stopped = await scitBinary(['bot', 'stop', 'gone', ...common])
    t.is(stopped.code, 1, 'stop exits 1')
    t.ok(
      /^error BAD_STATE: contract gone is already stopped$/m.test(stopped.stderr),
      stopped.stderr
    )

    const again = await bot(t, w, { data })
    const d2 = again.state.find('gone')
    t.is(d2.phase, 'stopped', 'still stopped')
    t.alike(
      await footprint(again, d2),
      before,
      'the same balance, no new bid or trade, nothing appended'
    )
  }
)

test('each command runs only in the phases where it makes sense, and a refusal says what to do instead', (t) => {
  const d = (phase: DeploymentRecord['phase'], error: string | null = null): DeploymentRecord => ({
    id: 'crm-1',
    template: 'crm.yaml',
    set: {},
    manifestHash: '',
    manifest: '',
    sources: [],
    contract: null,
    phase,
    bids: [],
    trades: [],
    created: 0,
    error
  })
  const verdict = (x: DeploymentRecord, cmd: Command): string => {
    try {
      requirePhase(x, cmd)
      return 'ok'
    } catch (err) {
      return `${(err as { code: string }).code}: ${(err as Error).message}`
    }
  }
  t.alike(
    (['scale', 'update', 'stop', 'resume', 'approve'] as Command[]).map((c) =>
      verdict(d('running'), c)
    ),
    ['ok', 'ok', 'ok', 'ok', 'ok'],
    'a running contract: everything'
  )
  t.is(verdict(d('stopped'), 'stop'), 'BAD_STATE: contract crm-1 is already stopped')
  t.is(
    verdict(d('stopped'), 'approve'),
    'BAD_STATE: contract crm-1 is stopped: nothing runs to sign; deploy the template again (scit bot deploy crm.yaml)'
  )
  t.is(
    verdict(d('failed', 'no offer fits'), 'stop'),
    'BAD_STATE: contract crm-1 failed before anything ran (no offer fits): nothing to stop; deploy the template again (scit bot deploy crm.yaml)'
  )
  t.is(
    verdict(d('approvals'), 'scale'),
    "BAD_STATE: contract crm-1 waits for its stakeholders' signatures (scit bot approvals crm-1): scale it once it runs"
  )
  t.is(
    verdict(d('approvals'), 'stop'),
    'ok',
    'a contract waiting for signatures holds leases: stop closes them'
  )
  t.is(
    verdict(d('trading'), 'update'),
    'BAD_STATE: contract crm-1 is not running yet (phase trading): scit bot run finishes deploying it; update it then'
  )
  t.is(
    verdict(d('trading'), 'approve'),
    'BAD_STATE: contract crm-1 is still buying capacity (phase trading): its manifest is not on the contract core yet'
  )
})
