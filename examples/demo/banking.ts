/**
 * The banking-feature story (examples/banking-feature.yaml): a versioned
 * service on certified nodes that legal, IT and budget sign off, any two of
 * three. Release 1.2.0 goes live; then 1.3.0 is rolled out as a new manifest
 * on the same contract: the nodes hold it until two stakeholders sign again,
 * then restart the service on the new version.
 */
import path from 'path'
import { ScitError } from '../../lib/errors'
import { deploy, update, waitRunning } from '../../bot/deployment'
import { replicaStatus } from '../../bot/replica-status'
import type { DeploymentRecord } from '../../bot/records'
import { pause } from '../../bot/wait'
import { exampleStakeholder, ExampleRole } from '../stakeholders'
import { request } from './http'
import { Stage, EXAMPLES, nodeName, reached, within, live } from './stage'
import safetyCatch from 'safety-catch'

export interface BankingResult {
  id: string
  contract: string
  nodes: string[]
  releases: Array<{
    release: string
    signers: string[]
    weight: number
    threshold: number
    served: string[]
  }>
}

const FIRST = '1.2.0'
const NEXT = '1.3.0'

export async function banking(s: Stage): Promise<BankingResult> {
  const { bot, r } = s
  r.wait(
    `the bot bids for the instant-payment limits feature ${FIRST}: 2 replicas on certified nodes in the EU`
  )
  const atApprovals = reached(bot, 'approvals')
  const deploying = deploy(bot, {
    template: path.join(EXAMPLES, 'banking-feature.yaml'),
    set: { release: FIRST, region: 'EU' },
    id: 'banking'
  })
  deploying.catch(safetyCatch)
  await within(s, 'buying capacity for the banking feature', Promise.race([atApprovals, deploying]))
  const d = bot.state.find('banking')
  const nodes = live(d).map((t) => nodeName(s, t.node))
  r.ok(
    `bought 2 replicas on ${nodes.join(' and ')}; contract ${(d.contract ?? '').slice(0, 8)}… asks 2 of legal, IT and budget to sign`,
    'attribute "certified", spread over distinct nodes'
  )

  const releases: BankingResult['releases'] = []
  releases.push({ release: FIRST, ...(await signOff(s, d, ['legal', 'budget'], FIRST)) })
  await within(s, 'the banking deploy', deploying)
  const first = await serving(s, d, FIRST)
  releases[0].served = first
  r.ok(
    `release ${FIRST} serves on ${nodes.join(' and ')}: GET /version says ${FIRST} on each replica, asked only through the DHT`,
    'the same manifest hash everywhere: every replica runs exactly what was signed'
  )

  r.wait(`the bot writes release ${NEXT} to the contract as a new manifest`)
  const atUpdate = reached(bot, 'update')
  const updating = update(bot, d, { release: NEXT })
  updating.catch(safetyCatch)
  await within(s, 'the update', Promise.race([atUpdate, updating]))
  r.ok(
    `release ${NEXT} is on the contract; the nodes stop ${FIRST} and wait for the sign-off of ${NEXT}`,
    'old signatures are for the old manifest hash: a new version is signed anew'
  )
  releases.push({ release: NEXT, ...(await signOff(s, d, ['legal', 'it'], NEXT)) })
  await within(s, 'the update', updating)
  releases[1].served = await serving(s, d, NEXT)
  r.ok(
    `release ${NEXT} serves on ${nodes.join(' and ')}: rolled out with no person logging into a node`,
    'a versioned update is one signed instruction on the same contract, the same leases'
  )
  return { id: d.id, contract: d.contract ?? '', nodes, releases }
}

async function signOff(
  s: Stage,
  d: DeploymentRecord,
  roles: ExampleRole[],
  release: string
): Promise<{ signers: string[]; weight: number; threshold: number; served: string[] }> {
  let weight = 0
  let threshold = 0
  for (const role of roles) {
    s.r.wait(`${role} reviews release ${release} and signs`)
    const res = await within(
      s,
      `${role}'s signature`,
      s.world.sign(d.contract ?? '', exampleStakeholder(role), role)
    )
    weight = res.weight
    threshold = res.threshold
    s.r.ok(`stakeholder ${role} signed release ${release} (weight ${res.weight}/${res.threshold})`)
  }
  return { signers: roles, weight, threshold, served: [] }
}

/**
 * Until the replicas answer GET /version with `release`, asked only through
 * the DHT (scit connect's tunnel, which takes the replicas in turn: twice as
 * many requests as replicas reach each of them); returns the answers.
 */
async function serving(s: Stage, d: DeploymentRecord, release: string): Promise<string[]> {
  s.r.wait(`waiting for every replica to serve ${release}, asked through the DHT`)
  const deadline = Date.now() + s.patience
  const tunnel = await s.world.tunnel(d.contract ?? '', s.bot.identity)
  let seen: string[] = []
  while (Date.now() < deadline) {
    await waitRunning(s.bot, d, { deadline })
    const rows = (await replicaStatus(s.bot, d, 2000)).filter((x) => x.lease === 'settled')
    seen = []
    const reached = new Set<string>()
    const on = (e: { replica: string }): void => {
      reached.add(e.replica)
    }
    tunnel.on('connection', on)
    for (let i = 0; i < rows.length * 2; i++) {
      seen.push(
        await request<{ release: string }>(
          'GET',
          `http://127.0.0.1:${tunnel.address.port}/version`
        ).then(
          (x) => x.body.release,
          () => 'not answering'
        )
      )
    }
    tunnel.off('connection', on)
    if (seen.length > 0 && reached.size >= rows.length && seen.every((v) => v === release))
      return seen.slice(0, rows.length)
    await pause(200, s.bot.abort.signal)
  }
  throw new ScitError(
    'TIMEOUT',
    `the banking replicas did not all serve ${release}: ${seen.join(', ')}`
  )
}
