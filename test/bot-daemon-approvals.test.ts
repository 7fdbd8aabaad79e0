import path from 'path'
import { testnet } from './helpers/net'
import { world, node, serviceTemplate, nodeState } from './helpers/deploy'
import { common, funded } from './helpers/cli'
import { sandboxTest } from './helpers/sandbox'
import { botRun, scitProcess } from './helpers/bot-process'
import { exampleStakeholder } from '../examples/stakeholders'
import { workloadId } from '../lib/trade-workload'
import { within } from '../lib/timeout'

const CRM = path.join(__dirname, '..', '..', 'examples', 'crm.yaml')
const LIMIT = 120_000

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
    t.is(
      daemon
        .events()
        .split('\n')
        .filter((l) => / approvals +crm: waiting for stakeholders/.test(l)).length,
      1,
      'bot run logged the wait for the stakeholders once, though the deploy and bot run both resumed it'
    )
    const status = await scitProcess(['bot', 'status', 'crm', '--json', ...flags])
    t.is((JSON.parse(status.stdout) as Array<{ phase: string }>)[0].phase, 'running', status.stderr)
  }
)

sandboxTest(
  'beside scit bot run, an update --no-approvals takes effect once the stakeholders signed the new version',
  { timeout: 300_000 },
  async (t) => {
    const net = await testnet(t)
    const w = await world(t, net)
    const n = await node(t, w)
    const { data } = await funded(t, w.founder)
    const flags = common(net, w.founder, data)
    const roles = ['legal', 'it'] as const
    const file = await serviceTemplate(t, {
      replicas: 1,
      threshold: 2,
      stakeholders: roles.map((role) => ({
        key: exampleStakeholder(role).publicKey,
        role,
        weight: 1
      }))
    })
    const signers: string[] = []
    for (const role of roles) {
      const dir = await t.tmp()
      const id = await scitProcess(['demo', 'stakeholder', role, '--data', dir])
      t.is(id.code, 0, id.stderr)
      signers.push(dir)
    }
    const signAll = async (contract: string): Promise<boolean> => {
      for (const dir of signers) {
        const sign = await scitProcess([
          'bot',
          'sign',
          contract,
          '--yes',
          ...common(net, null, dir)
        ])
        t.is(sign.code, 0, `${dir} signs: ${sign.stderr}`)
        if (sign.code !== 0) return false
      }
      return true
    }
    const daemon = await botRun(t, [...flags, '--interval', '500ms'])

    const dep = await scitProcess([
      'bot',
      'deploy',
      file,
      '--id',
      'web',
      '--no-approvals',
      '--json',
      ...flags
    ])
    t.is(dep.code, 0, dep.stderr)
    const { contract, trades } = JSON.parse(dep.stdout) as {
      contract: string
      trades: Array<{ id: string }>
    }
    if (!(await signAll(contract))) return
    const trade = trades[0].id
    await within(
      nodeState(n, trade, (s) => s === 'running'),
      LIMIT,
      'the node did not run version 1'
    )

    const upd = await scitProcess([
      'bot',
      'update',
      'web',
      '--set',
      'greeting=v2',
      '--no-approvals',
      '--json',
      ...flags
    ])
    t.is(upd.code, 0, upd.stderr)
    t.is((JSON.parse(upd.stdout) as { phase: string }).phase, 'running', 'update returns at once')
    await within(
      nodeState(n, trade, (s) => s !== 'running' && s !== 'starting'),
      LIMIT,
      'the node did not hold back the unsigned version 2'
    )
    t.pass('the node holds version 2 until its stakeholders sign it')
    if (!(await signAll(contract))) return
    await within(
      nodeState(n, trade, (s) => s === 'running'),
      LIMIT,
      'the node runs version 2'
    )
    t.is(
      n.supervisor.get(workloadId({ id: trade }))?.spec.env.GREETING,
      'v2',
      'bot run collected both signatures: the node runs version 2'
    )
    t.ok(/ approval /.test(daemon.events()), 'bot run logged the signatures it collected')
  }
)
