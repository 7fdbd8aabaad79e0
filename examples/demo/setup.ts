/**
 * Bringing the market up, step by step and narrated: the testnet, the market
 * and its indexers, the ten nodes, an expert's templates, the user's bot.
 */
import path from 'path'
import { generateKeyPair } from '../../lib/identity'
import { encodeKey } from '../../lib/keys'
import { ScitError } from '../../lib/errors'
import { loadTemplate } from '../../bot/template'
import { publishBody } from '../../bot/template-publish'
import type { Bot } from '../../bot/bot'
import { until } from '../../bot/wait'
import type { DemoWorld } from './world'
import type { Reporter } from './report'
import { FLEET, describeNode } from './fleet'
import { EXAMPLES } from './stage'
import safetyCatch from 'safety-catch'

export const TEMPLATES = ['crm.yaml', 'archive.yaml', 'banking-feature.yaml', 'ai-mining.yaml']
export const FUNDS = 1_000_000

export async function market(
  w: DemoWorld,
  r: Reporter
): Promise<{ key: string; indexers: string[] }> {
  r.wait('starting a HyperDHT testnet on 127.0.0.1')
  await w.startTestnet()
  r.ok(
    `local DHT testnet up at ${w.bootstrap}`,
    'every peer below finds the others through it, as on the public HyperDHT; nothing leaves this machine'
  )
  r.wait('the founder creates the market')
  await w.startMarket(3, (n) => {
    if (n === 1)
      r.ok(
        `market ${encodeKey(w.founder.key)} created`,
        'its key is the key of one Autobase: the order book. The founder signed the genesis: first indexer and the faucet'
      )
    else r.wait(`indexer ${n} joins; the current indexers vote it in`)
  })
  r.ok(
    '3 indexers agree on the order book: 2 more were voted in by signed governance ops',
    'anyone may append signed ops; the indexers fix their order, and an op is final once a majority of them signed it'
  )
  return {
    key: encodeKey(w.founder.key),
    indexers: w.indexers.map((p) => encodeKey(p.identity?.publicKey ?? Buffer.alloc(32)))
  }
}

export async function nodes(
  w: DemoWorld,
  r: Reporter
): Promise<Array<{ name: string; key: string; country: string; city: string }>> {
  r.wait(`starting ${FLEET.length} node daemons`)
  // Started together, reported in the fleet's order.
  const starting = FLEET.map((spec) => w.startNode(spec))
  for (const p of starting) p.catch(safetyCatch) // the first failure is thrown below; the world's close stops the rest
  for (let i = 0; i < FLEET.length; i++) {
    const daemon = await starting[i]
    r.ok(`node ${describeNode(FLEET[i], daemon.key)}`)
  }
  r.why(
    'each node posted one signed offer to the order book and keeps a signed capacity record on the DHT'
  )
  if (w.opts.sandbox)
    r.ok(
      'each runs its workloads in a bubblewrap sandbox: own namespaces (network too), read-only system, no root',
      'no shell, no login: a node runs only what a signed, paid contract says; services open no host port, they are reached through the DHT by contract key'
    )
  else
    r.ok(
      'WITHOUT a sandbox: services listen on loopback ports only each node knows, still reached only through the DHT',
      'no network namespace: a workload could reach the host and the LAN; never sell capacity like this'
    )
  return FLEET.map((spec) => ({
    name: spec.name,
    key: w.node(spec.name).daemon.key,
    country: spec.country,
    city: spec.city
  }))
}

/** An expert signs and publishes the example templates; they are versioned by name on the ledger. */
export async function templates(
  w: DemoWorld,
  r: Reporter
): Promise<Array<{ name: string; version: number }>> {
  r.wait('an expert publishes the example templates')
  const expert = await w.client(generateKeyPair())
  // with their files, so a bot can deploy any of them by name
  const docs = TEMPLATES.map((f) => publishBody(loadTemplate(path.join(EXAMPLES, f))))
  const outcomes = await expert.submitAndWait(
    docs.map((body) => ({ type: 'template', body })),
    { final: false }
  )
  const refused = outcomes.find((o) => !o.accepted)
  if (refused)
    throw new ScitError(
      'REJECTED',
      `the market refused a template: ${refused.reason ?? ''} ${refused.message ?? ''}`
    )
  r.ok(
    `expert ${expert.identity.slice(0, 8)} published ${docs.map((d) => `${d.name} v${d.version}`).join(', ')}`,
    'signed by their author, owned by their first publisher; a bot turns one into a concrete, hashed manifest'
  )
  return docs.map((d) => ({ name: d.name, version: d.version }))
}

export async function bot(w: DemoWorld, r: Reporter): Promise<Bot> {
  r.wait("starting the user's bot")
  const b = await w.startBot(FUNDS)
  // The bot bids only once its own view has the deposit: a bid appended before it would be judged without it.
  await until(b.client, async () => (await b.client.balance(b.key)) >= FUNDS)
  r.ok(
    `bot ${b.key.slice(0, 8)} up, funded with ${FUNDS.toLocaleString('en-US')} by the market's faucet`,
    'a headless agent: it trades, writes contracts and watches nodes for its user'
  )
  return b
}
