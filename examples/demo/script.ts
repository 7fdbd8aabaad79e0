/**
 * The demo's script: a whole market in this process, on a local testnet,
 * told step by step. `runDemo` brings the world up, plays every story, checks
 * that money was conserved, and returns a summary of what it claims, for the
 * CLI to print and for the tests to check against the ledger and the nodes.
 *
 *   const { world, summary } = await runDemo({ reporter, quick: true })
 *   …
 *   await world.close()
 */
import { ScitError } from '../../lib/errors'
import { sandboxAvailable } from '../../node/sandbox'
import { moneyConserved, withFinal, MoneyCheck } from '../../market/audit'
import { listBalances } from '../../market/queries'
import { DemoWorld } from './world'
import type { Reporter } from './report'
import type { Stage } from './stage'
import * as setup from './setup'
import { crm, CrmResult } from './crm'
import { job, JobResult } from './job'
import { archive, ArchiveResult } from './archive'
import { banking, BankingResult } from './banking'
import { heal, HealResult } from './heal'

export interface DemoOptions {
  reporter: Reporter
  /** For the test suite: a shorter grace before a silent node is replaced, no pay claims; every step still runs. */
  quick?: boolean
  /** Default: whether bubblewrap works here. false: the nodes run workloads unsandboxed (with a loud notice). */
  sandbox?: boolean
  /** The longest any one wait may take (ms). */
  patience?: number
  /** Called with the world as soon as it exists, so that a Ctrl-C can close it mid-run. */
  onWorld?: (world: DemoWorld) => void
}

export interface DemoSummary {
  seconds: number
  quick: boolean
  sandbox: boolean
  market: { key: string; bootstrap: string; indexers: string[] }
  nodes: Array<{ name: string; key: string; country: string; city: string; stopped: boolean }>
  templates: Array<{ name: string; version: number }>
  bot: string
  crm: CrmResult
  job: JobResult
  archive: ArchiveResult
  banking: BankingResult
  healing: HealResult
  money: MoneyCheck & { bot: number; nodes: number }
}

/** Run the whole demo. On success the world is left running (close it); on failure it is closed before the error is rethrown. */
export async function runDemo(
  opts: DemoOptions
): Promise<{ world: DemoWorld; summary: DemoSummary }> {
  const r = opts.reporter
  const quick = opts.quick === true
  const sandbox = sandboxCheck(r, opts.sandbox)
  const world = DemoWorld.create({
    sandbox,
    ackInterval: 20,
    monitor: { interval: 500, grace: quick ? 2500 : 3000 },
    claimInterval: quick ? 0 : 5000
  })
  opts.onWorld?.(world)
  try {
    const summary = await play(world, r, { quick, sandbox, patience: opts.patience ?? 60_000 })
    return { world, summary }
  } catch (err) {
    await world.close()
    throw err
  }
}

async function play(
  world: DemoWorld,
  r: Reporter,
  o: { quick: boolean; sandbox: boolean; patience: number }
): Promise<DemoSummary> {
  const started = Date.now()
  r.section(1, 'a market on a local DHT testnet')
  const market = await setup.market(world, r)
  r.section(2, 'ten nodes sell capacity')
  const nodes = await setup.nodes(world, r)
  r.section(3, 'an expert publishes templates; a user starts a bot')
  const templates = await setup.templates(world, r)
  const bot = await setup.bot(world, r)
  const s: Stage = { world, bot, r, quick: o.quick, patience: o.patience }

  r.section(4, 'a CRM for 50 users in CH, signed off by legal and IT (examples/crm.yaml)')
  const crmResult = await crm(s)
  // from now on the bot watches its nodes, and copies the CRM's state core as its node writes it
  bot.monitor.start()
  r.section(5, 'an AI data-mining job (examples/ai-mining.yaml)')
  const jobResult = await job(s)
  r.section(
    6,
    'an archive of 8 MB coded 4 + 2 in DE, a holder lost and repaired (examples/archive.yaml, scaled down from PB)'
  )
  const archiveResult = await archive(s)
  r.section(
    7,
    'a banking feature rollout, 1.2.0 then 1.3.0, 2 of 3 stakeholders (examples/banking-feature.yaml)'
  )
  const bankingResult = await banking(s)
  r.section(8, 'a node dies; the bot heals the CRM')
  const healing = await heal(s, crmResult.id, crmResult.contacts)
  r.section(9, 'money')
  const money = await audit(s)

  return {
    seconds: (Date.now() - started) / 1000,
    quick: o.quick,
    sandbox: o.sandbox,
    market: { ...market, bootstrap: world.bootstrap },
    nodes: nodes.map((n) => ({ ...n, stopped: world.node(n.name).stopped })),
    templates,
    bot: bot.key,
    crm: crmResult,
    job: jobResult,
    archive: archiveResult,
    banking: bankingResult,
    healing,
    money
  }
}

/** Σ balances + Σ escrow = minted, on the final ledger; and who holds what. */
async function audit(s: Stage): Promise<DemoSummary['money']> {
  s.r.wait('reading the final ledger')
  const m = await moneyConserved(s.world.founder)
  if (!m.ok)
    throw new ScitError(
      'DEMO',
      `money is not conserved: ${m.balances} in balances + ${m.escrow} in escrow ≠ ${m.minted} minted`
    )
  const nodeKeys = new Set([...s.world.nodes.values()].map((n) => n.daemon.key))
  const balances = await withFinal(s.world.founder, (view) => listBalances(view))
  const botBalance = balances.find((b) => b.key === s.bot.key)?.balance ?? 0
  const nodesBalance = balances
    .filter((b) => nodeKeys.has(b.key))
    .reduce((n, b) => n + b.balance, 0)
  const fmt = (n: number): string => n.toLocaleString('en-US')
  s.r.ok(
    `money is conserved: ${fmt(m.balances)} in balances + ${fmt(m.escrow)} in escrow = ${fmt(m.minted)} minted by the faucet`,
    `the bot holds ${fmt(botBalance)}, the nodes earned ${fmt(nodesBalance)}, the rest is escrow for running leases; the engine checks this after every op`
  )
  return { ...m, bot: botBalance, nodes: nodesBalance }
}

/** Whether the nodes sandbox their workloads: bubblewrap when it works here, unless told not to; loudly when not. */
function sandboxCheck(r: Reporter, want?: boolean): boolean {
  const a = want === false ? { ok: false, reason: null } : sandboxAvailable()
  if (a.ok) return true
  r.warn([
    "NO SANDBOX: the demo's nodes will run the example workloads WITHOUT",
    a.reason === null
      ? 'isolation, as --no-sandbox asks.'
      : 'isolation, because bubblewrap cannot run here:',
    ...(a.reason === null ? [] : [`  ${a.reason}`]),
    'Acceptable only because everything runs locally and the workloads',
    "are this repo's own examples. A real node refuses to run like this",
    '(apt-get install bubblewrap).'
  ])
  return false
}
