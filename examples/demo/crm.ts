/**
 * The CRM story (examples/crm.yaml): the bot buys one replica in CH, writes
 * the contract, waits for legal and IT to sign it, deploys; the node runs a
 * real HTTP service whose data lives on the node's own disk.
 */
import { workloadId } from '../../lib/trade-workload'
import fs from 'fs'
import path from 'path'
import { ScitError } from '../../lib/errors'
import { deploy, waitRunning } from '../../bot/deployment'
import type { DeploymentRecord } from '../../bot/records'
import { exampleStakeholder } from '../stakeholders'
import { request, whenUp } from './http'
import { Stage, EXAMPLES, nodeName, reached, within } from './stage'
import safetyCatch from 'safety-catch'

export interface CrmResult {
  id: string
  contract: string
  trade: string
  node: string
  approvals: Array<{ role: string; weight: number; threshold: number }>
  url: string
  contacts: number
  dataFile: string
}

const USERS = 50
const SIGNERS = ['legal', 'it'] as const

interface Contact {
  id: string
  name: string
  email: string
}

export async function crm(s: Stage): Promise<CrmResult> {
  const { bot, r, world } = s
  r.wait(`the bot bids for a CRM for ${USERS} users in CH`)
  const atApprovals = reached(bot, 'approvals')
  const deploying = deploy(bot, {
    template: path.join(EXAMPLES, 'crm.yaml'),
    set: { users: USERS, country: 'CH' },
    id: 'crm'
  })
  deploying.catch(safetyCatch) // awaited below; a failure before that surfaces through the race
  await within(
    s,
    'buying capacity for the CRM',
    Promise.race([
      atApprovals,
      deploying.then(() => {
        throw new ScitError('DEMO', 'the CRM deployed without waiting for its stakeholders')
      })
    ])
  )
  const d = bot.state.find('crm')
  const t = d.trades[0]
  const node = nodeName(s, t.node)
  const trade = await bot.client.trade(t.id)
  r.ok(
    `bought 1 replica on ${node} at ${t.price}/hour, ${trade?.escrow ?? 0} locked in escrow for 30 days`,
    'the cheapest offer in CH with 1 core, 178 MiB and 1 GiB ssd free; settling bound the trade to the contract'
  )
  r.ok(
    `contract ${short(d.contract)} written by the bot: manifest, trade, sign-off policy "legal and IT"`,
    'an append-only Hypercore only the bot can write; the node has it, but runs nothing before the sign-off'
  )

  const approvals: CrmResult['approvals'] = []
  for (const role of SIGNERS) {
    r.wait(`${role} fetches the contract, checks it and signs its manifest hash`)
    const res = await within(
      s,
      `${role}'s signature`,
      world.sign(d.contract ?? '', exampleStakeholder(role), role)
    )
    approvals.push({ role, weight: res.weight, threshold: res.threshold })
    r.ok(
      `stakeholder ${role} signed (weight ${res.weight}/${res.threshold})`,
      res.weight < res.threshold
        ? 'below the threshold: the bot may not deploy yet, and no node would run it'
        : 'threshold reached: the bot appends the signatures, the files and a signed deploy instruction'
    )
  }
  r.wait('the bot ships the files and signs the deploy instruction')
  await within(s, 'the CRM deploy', deploying)

  r.wait(`${node} fetches the files, verifies them and starts the CRM`)
  const rows = await waitRunning(bot, d, { deadline: Date.now() + s.patience })
  const key = rows[0]?.ports.find((p) => p.port === 8080)?.key
  if (key === undefined)
    throw new ScitError('DEMO', `the CRM on ${node} reports no DHT key for port 8080`)
  r.ok(
    `${node} checked the trade, every signature and file hash, and runs the CRM ${s.world.opts.sandbox ? 'in a sandbox' : 'WITHOUT a sandbox'}`,
    "a node runs only what a final trade, the bot's signature, the sign-off and the file hashes allow"
  )

  r.wait('the bot opens a local port to the CRM through the DHT (scit connect, by contract key)')
  const tunnel = await s.world.tunnel(d.contract ?? '', s.bot.identity)
  const talked = await talk(s, d, `http://127.0.0.1:${tunnel.address.port}`)
  r.ok(
    `the CRM answers through the DHT at ${talked.url}: ${talked.contacts} contacts added, read back, found in data.json on ${node}'s disk`,
    `scit connect ${short(d.contract ?? '')} found the replica by contract key (its server ${key.slice(0, 8)} admits only the bot and its stakeholders); ${node} opened no host port, the CRM ${s.world.opts.sandbox ? 'has its own network namespace' : 'listens on a loopback port only the node knows (no sandbox)'}`
  )
  return { id: d.id, contract: d.contract ?? '', trade: t.id, node, approvals, ...talked }
}

const PEOPLE = [
  { name: 'Ada Lovelace', email: 'ada@example.com', company: 'Analytical Engines' },
  { name: 'Grace Hopper', email: 'grace@example.com', company: 'Eckert-Mauchly' },
  { name: 'Edsger Dijkstra', email: 'edsger@example.com', company: 'Mathematisch Centrum' }
]

/** Add contacts over HTTP, read the list back, and find them in the replica's data file on the node. */
async function talk(
  s: Stage,
  d: DeploymentRecord,
  url: string
): Promise<{ url: string; contacts: number; dataFile: string }> {
  s.r.wait(`adding ${PEOPLE.length} contacts through ${url}`)
  const ids: string[] = []
  for (const person of PEOPLE) {
    const added = await whenUp<Contact>('POST', `${url}/contacts`, person)
    if (added.status !== 201)
      throw new ScitError('DEMO', `the CRM refused a contact: ${added.status}`)
    ids.push(added.body.id)
  }
  const list = await request<Contact[]>('GET', `${url}/contacts`)
  if (!ids.every((id) => list.body.some((c) => c.id === id)))
    throw new ScitError('DEMO', 'the CRM lost a contact it just stored')
  const host = s.world.byKey(d.trades[0].node)
  if (host === null) throw new ScitError('NOT_FOUND', "the CRM node is not one of the demo's")
  const dataFile = path.join(host.daemon.supervisor.workDir(workloadId(d.trades[0])), 'data.json')
  const stored = JSON.parse(fs.readFileSync(dataFile, 'utf8')) as Contact[]
  if (!ids.every((id) => stored.some((c) => c.id === id)))
    throw new ScitError('DEMO', `${dataFile} does not hold the contacts`)
  return { url, contacts: list.body.length, dataFile }
}

function short(key: string | null): string {
  return key === null ? '?' : `${key.slice(0, 8)}…`
}
