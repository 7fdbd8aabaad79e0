import path from 'path'
import { testnet } from './helpers/net'
import { world, node } from './helpers/deploy'
import { common, funded } from './helpers/cli'
import { sandboxTest } from './helpers/sandbox'
import { botRun, scitProcess } from './helpers/bot-process'

const CRM = path.join(__dirname, '..', '..', 'examples', 'crm.yaml')

sandboxTest(
  'beside scit bot run, a deploy --no-approvals is deployed by bot run once the stakeholders signed',
  { timeout: 300_000 },
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    await node(t, w)
    const { data } = await funded(t, w.founder)
    const flags = common(net, w.founder, data)
    const daemon = await botRun(t, [...flags, '--interval', '500ms'])

    const dep = await scitProcess([
      'bot',
      'deploy',
      CRM,
      '--set',
      'users=50',
      '--id',
      'crm',
      '--no-approvals',
      '--json',
      ...flags
    ])
    t.is(dep.code, 0, dep.stderr)
    const { contract, phase } = JSON.parse(dep.stdout) as { contract: string; phase: string }
    t.is(phase, 'approvals', 'deploy returns while the stakeholders have not signed')

    for (const role of ['legal', 'it']) {
      const dir = await t.tmp()
      const id = await scitProcess(['demo', 'stakeholder', role, '--data', dir])
      t.is(id.code, 0, id.stderr)
      const sign = await scitProcess(['bot', 'sign', contract, '--yes', ...common(net, null, dir)])
      t.is(sign.code, 0, `${role} signs: ${sign.stderr}`)
      if (sign.code !== 0) return
    }
    await daemon.waitFor(/ deploy +crm: files and the deploy instruction signed/)
    t.pass('bot run wrote the deploy instruction once the threshold was reached')
    const status = await scitProcess(['bot', 'status', 'crm', '--json', ...flags])
    t.is((JSON.parse(status.stdout) as Array<{ phase: string }>)[0].phase, 'running', status.stderr)
  }
)
