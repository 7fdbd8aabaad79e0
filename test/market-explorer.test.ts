import test from 'brittle'
import { testnet } from './helpers/net'
import { explored, market, marketJson, spawnMarket } from './helpers/explorer'
import { peer, offerOp } from './helpers/ledger'
import { peerBot as testBot, workload, manifest, buy, contract, settle } from './helpers/node-bot'
import { generateKeyPair } from '../lib/identity'
import { encodeKey } from '../lib/keys'
import type { Offer, Bid, Trade } from '../market/types'
import type {
  NodeRow,
  ContractRow,
  TemplateRow,
  BalanceRow,
  MarketStats
} from '../market/explorer/model'
import type { ContractDetail } from '../market/explorer/model'

const byId = <T extends { id: string }>(a: T[]): T[] =>
  [...a].sort((x, y) => x.id.localeCompare(y.id))
const byNode = <T extends { node: string }>(a: T[]): T[] =>
  [...a].sort((x, y) => x.node.localeCompare(y.node))

test("the explorer's --json output of every list command holds what the ledger holds, and its filters filter", async (t) => {
  const net = await testnet(t)
  const { w, ch, de, bot, d, bid } = await explored(t, net)
  const ledger = w.founder.client
  const json = <T>(...args: string[]): Promise<T> => marketJson<T>(t, net, w, args)

  await t.test(
    'nodes: both nodes, joined with their verified presence and their leases',
    async (t) => {
      const [all, de1, cpu, ssd, cheap, none] = await Promise.all([
        json<NodeRow[]>('nodes'),
        json<NodeRow[]>('nodes', '--country', 'de'),
        json<NodeRow[]>('nodes', '--min-cpu', '0.6'),
        json<NodeRow[]>('nodes', '--attr', 'ssd'),
        json<NodeRow[]>('nodes', '--max-price', '20'),
        json<NodeRow[]>('nodes', '--node', de.key.slice(0, 8), '--min-memory', '8GiB')
      ])
      t.alike(all.map((n) => n.node).sort(), [ch.key, de.key].sort(), 'every node with an offer')
      const c = all.find((n) => n.node === ch.key)
      t.ok(
        c !== undefined && c.online && c.presence === 'verified',
        'CH is online: its presence record verified'
      )
      t.is(c?.connected, true, 'and the explorer reached it over the swarm')
      t.ok(
        typeof c?.lastSeen === 'number' && c.lastSeen > 0,
        "last seen is the record's signed timestamp"
      )
      t.is(c?.leases, 1, 'CH holds the one lease')
      t.alike([c?.free.cpu, c?.total.cpu], [500, 1000], 'free and total cpu from the offer')
      t.alike(
        [c?.country, c?.city, c?.attributes, c?.price],
        ['CH', 'Zurich', ['ssd'], 11],
        'location, attributes, headline price (a core and a GiB for an hour)'
      )
      t.alike(
        de1.map((n) => n.node),
        [de.key],
        '--country keeps DE only'
      )
      t.alike(
        cpu.map((n) => n.node),
        [de.key],
        '--min-cpu 0.6 leaves out CH, which has half a core free'
      )
      t.alike(
        ssd.map((n) => n.node),
        [ch.key],
        '--attr ssd leaves out DE'
      )
      t.alike(
        cheap.map((n) => n.node),
        [ch.key],
        '--max-price 20 leaves out DE (51 for a core and a GiB)'
      )
      t.is(none.length, 0, '--node by prefix with --min-memory beyond its 4GiB: nothing')
    }
  )

  await t.test("offers, bids, trades: the ledger's records, filtered", async (t) => {
    const [offers, ch1, open, trades, settled, onDe, mine, live, openByDefault] = await Promise.all(
      [
        json<Offer[]>('offers'),
        json<Offer[]>('offers', '--country', 'CH', '--attr', 'ssd'),
        json<Bid[]>('bids', '--state', 'open'),
        json<Trade[]>('trades', '--all'),
        json<Trade[]>('trades', '--state', 'settled'),
        json<Trade[]>('trades', '--node', de.key, '--all'),
        json<Bid[]>('bids', '--bot', bot.key, '--all'),
        json<Trade[]>('trades'),
        json<Bid[]>('bids')
      ]
    )
    t.alike(byNode(offers), byNode(await ledger.offers()), 'offers as the ledger holds them')
    t.alike(
      ch1.map((o) => o.node),
      [ch.key],
      'offers --country CH --attr ssd'
    )
    t.alike(
      open.map((b) => b.id),
      [bid],
      'the resting bid is the only open one'
    )
    t.alike(
      byId(mine),
      byId(await ledger.bids({ bot: bot.key })),
      'bids of the bot as the ledger holds them'
    )
    t.alike(byId(trades), byId(await ledger.trades()), 'trades as the ledger holds them')
    t.alike(
      settled.map((x) => x.id),
      d.trades.map((x) => x.id),
      "the settled trade is the contract's"
    )
    t.is(onDe.length, 0, 'nothing traded on DE')
    t.alike(
      byId(live),
      byId(trades.filter((x) => x.state === 'matched' || x.state === 'settled')),
      'without --all, the live trades only'
    )
    t.alike(
      openByDefault.map((b) => b.id),
      [bid],
      'without --all, the open bids only'
    )
  })

  await t.test('contracts, templates, balances, stats', async (t) => {
    const [contracts, ended, templates, balances, one, stats] = await Promise.all([
      json<ContractRow[]>('contracts'),
      json<ContractRow[]>('contracts', '--state', 'ended'),
      json<TemplateRow[]>('templates'),
      json<BalanceRow[]>('balances'),
      json<BalanceRow[]>('balances', '--bot', bot.key),
      json<MarketStats>('stats')
    ])
    const [trade] = await ledger.trades({ state: 'settled' })
    t.alike(
      contracts.map((c) => [c.contract, c.bot, c.state, c.replicas, c.nodes, c.manifest]),
      [[d.contract, bot.key, 'live', 1, [ch.key], d.manifestHash]],
      'the contract, from its settled trade'
    )
    t.is(contracts[0].escrow, trade.escrow, 'its escrow as the trade holds it')
    t.is(ended.length, 0, 'no ended contract')
    t.alike(
      templates.map((x) => [x.name, x.version, x.author]),
      [['web', 1, bot.key]],
      'the published template'
    )
    t.is(
      balances.find((b) => b.key === bot.key)?.balance,
      await ledger.balance(bot.key),
      "the bot's balance"
    )
    t.alike(
      one.map((b) => b.key),
      [bot.key],
      'balances --bot keeps one key'
    )
    t.is(one[0].escrow, trade.escrow, 'and the escrow its trades lock')
    t.alike(
      [
        stats.nodes.offers,
        stats.nodes.leasing,
        stats.trades.settled,
        stats.volume.trades,
        stats.bids.open
      ],
      [2, 1, 1, 1, 1],
      'counts'
    )
    t.alike(
      [stats.capacity.total.cpu, stats.capacity.sold.cpu, stats.capacity.free.cpu],
      [3000, 500, 2500],
      'capacity for sale, sold and free'
    )
    t.is(stats.medianPrice.cpu, 30, 'median cpu price of 10 and 50')
    t.is(stats.money.balances + stats.money.escrow, stats.money.minted, 'money adds up')
  })

  await t.test('bad filters are typed errors naming the flag', async (t) => {
    const runs = await Promise.all([
      market(t, net, w, ['nodes', '--min-cpu', 'lots']),
      market(t, net, w, ['trades', '--state', 'happy']),
      market(t, net, w, ['nodes', '--country', 'Switzerland']),
      market(t, net, w, ['offers', '--max-price', '-3']),
      market(t, net, w, ['watch', 'nodes', '--state', 'open']),
      market(t, net, w, ['offers', '--country', 'XX'])
    ])
    t.ok(
      runs.every((r) => r.code === 1),
      'each exits 1'
    )
    t.ok(
      /^error INVALID_ARGUMENT: --min-cpu: "lots" is not a cpu amount/m.test(runs[0].stderr),
      runs[0].stderr.trim()
    )
    t.ok(
      /^error INVALID_ARGUMENT: --state: "happy" is not one of matched, settled/m.test(
        runs[1].stderr
      ),
      runs[1].stderr.trim()
    )
    t.ok(/^error INVALID_ARGUMENT: --country/m.test(runs[2].stderr), runs[2].stderr.trim())
    t.ok(/^error INVALID_ARGUMENT: --max-price/m.test(runs[3].stderr), runs[3].stderr.trim())
    t.ok(
      /^error INVALID_ARGUMENT: --state does not apply to nodes/m.test(runs[4].stderr),
      runs[4].stderr.trim()
    )
    t.ok(
      /^error INVALID_ARGUMENT: --country: "XX" is not an ISO 3166 alpha-2 code/m.test(
        runs[5].stderr
      ),
      `a two-letter code that is no country: ${runs[5].stderr.trim()}`
    )
  })
})

test("scit market contract ID shows the verified manifest, approvals, and the running workload and its log lines from the node's signed cores", async (t) => {
  const net = await testnet(t)
  const { w, ch, bot, d } = await explored(t, net)
  const contract = d.contract ?? ''

  const c = await marketJson<ContractDetail>(t, net, w, ['contract', contract.slice(0, 10)])
  t.is(c.contract, contract, 'a prefix names the contract')
  t.is(c.bot, bot.key, 'its bot')
  t.ok(c.verified, `the core verified against the trade's bot (${c.error ?? ''})`)
  t.alike(
    [c.manifest?.name, c.manifest?.version, c.manifest?.hash],
    ['web', 1, d.manifestHash],
    'the manifest in force'
  )
  t.alike(
    c.manifest?.workloads.map((x) => [x.name, x.kind, x.replicas, x.resources.cpu]),
    [['app', 'service', 1, 500]],
    'its workload and resources'
  )
  t.alike(
    c.manifest?.placement,
    { countries: ['CH'], attributes: ['ssd'], spread: true },
    'its placement'
  )
  t.alike([c.approvals?.threshold, c.approvals?.reached], [0, true], 'no sign-off required')
  t.is(c.lifecycle?.deployed, 1, 'deployed by instruction 1')
  t.is(c.replicas.length, 1, 'one replica')
  const r = c.replicas[0]
  t.alike(
    [r.trade, r.node, r.lease, r.workload],
    [d.trades[0].id, ch.key, 'settled', 'app'],
    'the replica: trade, node, lease, workload'
  )
  t.alike(
    [r.presence, r.status, r.state],
    ['verified', 'verified', 'running'],
    "running, says the node's signed status core"
  )
  t.ok(
    r.logs.some((l) => l.text === 'up from-the-explorer-test'),
    "its log line, from the node's signed log core"
  )
  t.is(r.refused, 0, 'every record verified')

  const human = await market(t, net, w, ['contract', contract])
  t.is(human.code, 0, human.stderr)
  t.ok(
    /manifest +web v1/.test(human.stdout) &&
      /settled .* running/.test(human.stdout) &&
      /up from-the-explorer-test/.test(human.stdout),
    'the human view: manifest, replica state, log line'
  )

  const missing = await market(t, net, w, ['contract', 'yyyyyyyy'])
  t.is(missing.code, 1)
  t.ok(
    /^error NOT_FOUND: no trade of this market is settled to a contract yyyyyyyy/m.test(
      missing.stderr
    ),
    'an unknown contract is NOT_FOUND'
  )
})

test('scit market watch prints a refresh per market update and at its interval, and stops cleanly on SIGINT', async (t) => {
  const net = await testnet(t)
  const { w, bot } = await explored(t, net)

  const once = await marketJson<{ view: string; rows: Trade[] }>(t, net, w, [
    'watch',
    'trades',
    '--state',
    'settled',
    '--count',
    '1'
  ])
  t.alike(
    [once.view, once.rows.length, once.rows[0].state],
    ['trades', 1, 'settled'],
    'watch VIEW --count 1: one refresh of the view, filtered, then it exits'
  )

  const { child, exited, lines } = await spawnMarket(t, net, w, [
    'watch',
    '--json',
    '--interval',
    '1h'
  ])
  const it = lines[Symbol.asyncIterator]()
  const first = JSON.parse((await it.next()).value as string)
  t.is(first.view, 'summary', 'the summary by default')
  t.alike(
    Object.keys(first.rows).sort(),
    ['contracts', 'nodes', 'offers', 'stats', 'trades'],
    "the summary's tables, by name"
  )
  t.is(first.rows.stats.trades.settled, 1, 'its stats')

  // a market update (a deposit) draws again long before the hour-long interval
  await w.founder.client.submitAndWait([
    { type: 'deposit', body: { to: bot.identity.publicKey, amount: 7 } }
  ])
  let next = JSON.parse((await it.next()).value as string)
  while (next.rows.stats.money.minted === first.rows.stats.money.minted)
    next = JSON.parse((await it.next()).value as string)
  t.is(next.rows.stats.money.minted, first.rows.stats.money.minted + 7, 'redrawn on the update')

  child.kill('SIGINT')
  t.is(await exited, 0, 'SIGINT stops it with exit code 0')
})

test("scit market contract ID shows a core signed by anyone but the trade's bot as unverified, and nothing of it as fact", async (t) => {
  const net = await testnet(t)
  const b = await testBot(t, net)
  const seller = await peer(t, net, { market: b.peer.key })
  const [offered] = await seller.client.submitAndWait([offerOp()])
  t.ok(offered.accepted, "a node's offer")
  const m = manifest(workload())
  const trade = await buy(b, m)
  // the core's header is signed by another key than the bot that bought and settles the trade
  const forged = await contract(
    t,
    { peer: b.peer, identity: generateKeyPair() },
    m,
    [trade],
    {},
    { deploy: false }
  )
  await settle(b, trade, forged, m)

  const c = await marketJson<ContractDetail>(t, net, b.peer, [
    'contract',
    encodeKey(forged.writer.key),
    '--timeout',
    '5s'
  ])
  t.is(c.verified, false, 'not verified')
  t.ok(
    /^VERIFICATION: wrong-bot/.test(c.error ?? ''),
    "because the header is not signed by the trade's bot"
  )
  t.alike(
    [c.manifest, c.approvals, c.instructions, c.lifecycle],
    [null, null, [], null],
    'nothing read from the core is shown'
  )
  t.alike(
    c.replicas.map((r) => [r.trade, r.lease, r.workload]),
    [[trade, 'settled', null]],
    "the ledger's side still is: the trade and its lease"
  )
  t.alike(
    [c.replicas[0].presence, c.replicas[0].status],
    ['missing', 'unreachable'],
    'a node without a presence record: its status is unknown, not guessed'
  )

  const human = await market(t, net, b.peer, [
    'contract',
    encodeKey(forged.writer.key),
    '--timeout',
    '5s'
  ])
  t.ok(/core +UNVERIFIED: VERIFICATION: wrong-bot/.test(human.stdout), 'the table says UNVERIFIED')
})
