/**
 * The soak's recovery clock (test/soak/contracts.ts) judged on its own: a bot's state.json in a temporary dir,
 * outages written into the injector, no process and no network (nothing of the market answers: no lease is up; a
 * case that needs offers gives a view of its own).
 */
import test from 'brittle'
import type { Assert } from 'brittle'
import fs from 'fs'
import path from 'path'
import { encodeManifest, Manifest } from '../lib/contract'
import { ZERO } from '../lib/resources'
import type { Offer, Trade } from '../market/types'
import { Injector } from './soak/injector'
import { Contracts, RECOVERY } from './soak/contracts'
import type { Cluster } from './soak/cluster'
import type { Checker } from './soak/checker'
import { minimalInstance } from './helpers/bot'

const S = 1000
const T0 = 1_000_000 * S

/** A signed view with only offers and live trades, for the checker's reads. */
interface View {
  offers: Offer[]
  trades: Trade[]
}

async function soak(
  t: Assert,
  view: View | null = null
): Promise<{
  injector: Injector
  contracts: Contracts
  said: string[]
  manifest: Manifest
  trades: (list: Array<[string, string]>) => void
}> {
  const dir = await t.tmp()
  const cast = {
    indexers: ['idx0', 'idx1', 'idx2'],
    nodes: ['n0', 'n1', 'n2'],
    bots: ['botA'],
    others: []
  }
  const keys = new Map([...cast.nodes, ...cast.bots].map((n) => [n, `key-${n}`]))
  const cluster = {
    cast,
    keys,
    data: (name: string) => path.join(dir, name),
    proc: () => ({ alive: false, state: 'down', pid: null, write: () => {} }),
    place: () => ({ country: 'CH', attributes: ['ssd'] })
  } as unknown as Cluster
  const said: string[] = []
  const injector = new Injector(
    cluster,
    () => {},
    () => {}
  )
  const contracts = new Contracts(
    cluster,
    injector,
    {
      peer:
        view === null
          ? null
          : {
              client: {
                genesis: async () => ({ offerTtl: 0 }),
                time: async () => 0,
                offers: async () => view.offers,
                trades: async () => view.trades,
                trade: async () => null
              }
            }
    } as unknown as Checker,
    (kind, line) => said.push(`${kind}: ${line}`)
  )
  const m = (await minimalInstance(t)).inst.manifest
  const manifest = encodeManifest(m).toString('hex')
  fs.mkdirSync(path.join(dir, 'botA', 'bot'), { recursive: true })
  const trades = (list: Array<[string, string]>): void =>
    fs.writeFileSync(
      path.join(dir, 'botA', 'bot', 'state.json'),
      JSON.stringify({
        deployments: [
          {
            id: 'crm',
            contract: 'c',
            phase: 'running',
            manifest,
            trades: list.map(([id, node]) => ({
              id,
              workload: 'web',
              node: `key-${node}`,
              phase: 'settled'
            }))
          }
        ]
      })
    )
  return { injector, contracts, said, manifest: m, trades }
}

test('recovery: a replacement whose own node is killed after it was bought is judged from that kill, not from the first fault', async (t) => {
  const { injector, contracts, said, trades } = await soak(t)
  injector.outage({ name: 'n0', kind: 'kill', from: T0 - 2 * S })
  trades([['t0', 'n0']])
  t.alike(await contracts.check(T0), ['botA/crm/web'], 'short: its one replica is down')
  // the bot heals onto n1 at +10 s; n1 is killed at +15 s and stays down
  trades([['t1', 'n1']])
  await contracts.check(T0 + 10 * S)
  injector.outage({ name: 'n1', kind: 'kill', from: T0 + 15 * S })
  await contracts.check(T0 + RECOVERY + 5 * S)
  t.alike(said, [], 'within grace + 60 s of the kill that stopped the replacement')
  t.is(contracts.counts.stoppedAgain, 1)
  await contracts.check(T0 + 15 * S + RECOVERY + 2 * S)
  t.is(said.length, 1, 'past grace + 60 s of that kill: a violation')
  t.ok(said[0].startsWith('recovery: botA/crm/web: 0 of 1'), said[0])
})

test('recovery: a replacement bought on a node already down is judged from the first fault', async (t) => {
  const { injector, contracts, said, trades } = await soak(t)
  injector.outage({ name: 'n0', kind: 'kill', from: T0 - 2 * S })
  trades([['t0', 'n0']])
  await contracts.check(T0)
  // n1 was cut off before the bot bought it: the bot's choice, not a new fault
  injector.outage({ name: 'n1', kind: 'cut', from: T0 + 5 * S })
  trades([['t1', 'n1']])
  await contracts.check(T0 + 10 * S)
  // faults piling on the failed lease's node start nothing again either
  injector.outage({ name: 'n0', kind: 'pause', from: T0 + 20 * S })
  trades([
    ['t0', 'n0'],
    ['t1', 'n1']
  ])
  await contracts.check(T0 + RECOVERY + 2 * S)
  t.is(contracts.counts.stoppedAgain, 0)
  t.is(said.length, 1, 'past grace + 60 s of the first fault: a violation')
})

test('recovery: time when no node the placement allows was there for the bot does not count', async (t) => {
  const { injector, contracts, said, trades } = await soak(t)
  // every node down from just before the episode to +60 s: nothing to heal onto
  for (const n of ['n0', 'n1', 'n2'])
    injector.outage({ name: n, kind: 'kill', from: T0 - 2 * S }).to = T0 + 60 * S
  trades([['t0', 'n0']])
  await contracts.check(T0)
  await contracts.check(T0 + RECOVERY + 30 * S)
  t.alike(said, [], 'only 50 s of 110 counted: every node was down for 60 s of them')
  await contracts.check(T0 + 60 * S + RECOVERY + 2 * S)
  t.is(said.length, 1, 'past grace + 60 s of time with a node to heal onto: a violation')
  t.ok(said[0].includes('time a heal was possible'), said[0])
})

test('recovery: time when no node the placement allows had room in the signed view does not count, but room its own bot holds does', async (t) => {
  const view: View = { offers: [], trades: [] }
  const { injector, contracts, said, manifest, trades } = await soak(t, view)
  const need = manifest.workloads[0].resources
  const offer = (node: string, available: typeof need): Offer =>
    ({ node: `key-${node}`, withdrawn: false, available }) as unknown as Offer
  // n0 dies for good; n1 and n2 stay up, but others hold all their capacity until n2 frees some at +60 s
  injector.outage({ name: 'n0', kind: 'kill', from: T0 - 2 * S })
  view.offers = [offer('n1', ZERO), offer('n2', ZERO)]
  trades([['t0', 'n0']])
  await contracts.check(T0)
  await contracts.check(T0 + 59 * S)
  view.offers = [offer('n1', ZERO), offer('n2', need)]
  await contracts.check(T0 + 61 * S)
  await contracts.check(T0 + RECOVERY + 30 * S)
  t.alike(said, [], 'only 50 s of 110 counted: no allowed node had room for 60 s of them')
  await contracts.check(T0 + 60 * S + RECOVERY + 2 * S)
  t.is(said.length, 1, 'past grace + 60 s of time with room: a violation')
  t.ok(said[0].includes('a node with room'), said[0])

  // the same, but what fills n1 is a trade of this very bot (a bid of its in progress): that is no excuse
  const own = await soak(t, {
    offers: [offer('n1', ZERO), offer('n2', ZERO)],
    trades: [{ id: 'b1.0', bot: 'key-botA', node: 'key-n1', resources: need } as unknown as Trade]
  })
  own.injector.outage({ name: 'n0', kind: 'kill', from: T0 - 2 * S })
  own.trades([['t0', 'n0']])
  await own.contracts.check(T0)
  await own.contracts.check(T0 + RECOVERY + 2 * S)
  t.is(own.said.length, 1, 'room its own trade holds counts: a violation')
})
