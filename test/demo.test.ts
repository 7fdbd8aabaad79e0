import test from 'brittle'
import fs from 'fs'
import path from 'path'
import { Writable } from 'stream'
import { execFile } from 'child_process'
import { promisify } from 'util'
import { encodeKey } from '../lib/keys'
import { listIndexers } from '../market/queries'
import { withFinal, moneyConserved } from '../market/audit'
import { runDemo } from '../examples/demo/script'
import type { DemoWorld } from '../examples/demo/world'
import { Reporter } from '../examples/demo/report'
import { exampleStakeholder } from '../examples/stakeholders'
import { stateOn } from './helpers/deploy'

const run = promisify(execFile)
const SCIT = path.join(__dirname, '..', 'lib', 'cli.js')

function capture(): { out: Writable; text: () => string } {
  let text = ''
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString()
      cb()
    }
  })
  return { out, text: () => text }
}

// 90 s on a quiet machine, 177 s at a load of 37 on 2 cores
test(
  'the demo, in process: what its summary claims holds in the ledger and on the nodes',
  { timeout: 300_000 },
  async (t) => {
    const { out, text } = capture()
    const r = new Reporter({ out, live: false })
    r.captureLogs()
    t.teardown(() => r.release(), { order: 1 })
    const { world, summary } = await runDemo({ reporter: r, quick: true })
    t.teardown(() => world.close()) // idempotent: a safety net when an assertion below throws
    const bot = world.bot
    if (bot === null) return t.fail('no bot')
    const client = world.founder.client

    t.is(summary.market.indexers.length, 3, 'summary: 3 indexers')
    t.alike(
      (await withFinal(world.founder, (view) => listIndexers(view))).sort(),
      [...summary.market.indexers].sort(),
      'the final ledger names the same 3 indexers'
    )
    t.ok(
      world.indexers.every((p) => p.ledger.isIndexer),
      'each of the 3 peers indexes'
    )
    t.is(summary.nodes.length, 10, '10 nodes')
    t.is(new Set(summary.nodes.map((n) => n.country)).size, 3, 'in 3 countries')
    t.is((await client.offers()).length, 10, 'each with an offer on the book')
    t.alike(
      (await client.templates()).map((x) => x.name).sort(),
      ['ai-mining', 'archive', 'banking-feature', 'crm'],
      'the 4 example templates are published'
    )

    // The CRM: signed off by legal and IT, then healed onto another CH node.
    const crm = bot.state.find(summary.crm.id)
    const core = (await bot.writer(crm)).view
    t.ok(core.thresholdReached(), 'the CRM contract core holds approvals reaching the threshold')
    t.is(core.approvedWeight(), 2, 'weight 2 of 2')
    t.alike(
      summary.crm.approvals.map((a) => `${a.role} ${a.weight}/${a.threshold}`),
      ['legal 1/2', 'it 2/2'],
      'summary: legal then IT signed'
    )
    const signed = core.approvals.get(core.current.hash.toString('hex'))
    t.ok(
      signed?.has(exampleStakeholder('legal').publicKey.toString('hex')) &&
        signed?.has(exampleStakeholder('it').publicKey.toString('hex')),
      'by the legal and IT keys the template names'
    )
    t.is(summary.crm.contacts, 3, 'the CRM stored 3 contacts over HTTP')

    const h = summary.healing
    t.is(h.stopped, summary.crm.node, 'the node that died is the one that ran the CRM')
    t.ok(world.node(h.stopped).stopped, 'and it is stopped')
    const lost = await client.trade(h.failedTrade)
    t.is(lost?.state, 'failed', 'its lease is failed in the ledger')
    t.ok(
      (lost?.refunded ?? 0) > 0 && lost?.refunded === h.refunded,
      `and refunded (${lost?.refunded ?? 0})`
    )
    const replacement = await client.trade(h.replacement.trade)
    t.is(replacement?.state, 'settled', 'the replacement lease is settled')
    t.is(replacement?.contract, summary.crm.contract, 'to the same contract core')
    t.not(h.replacement.node, h.stopped, 'on another node')
    t.is(world.node(h.replacement.node).spec.country, 'CH', 'still in CH')
    t.is(
      stateOn(world.node(h.replacement.node).daemon, h.replacement.trade),
      'running',
      'which runs the CRM'
    )
    t.is(
      h.contactsAfter,
      summary.crm.contacts,
      `with the ${summary.crm.contacts} contact(s) it had`
    )
    t.is(
      h.restored.node,
      h.stopped,
      `restored from snapshot ${h.restored.seq}, signed by the node that died`
    )
    t.is(h.restored.trade, h.failedTrade, 'of the lost replica')
    const ins = core.instructions
      .flatMap((i) => i.restore)
      .find((x) => x.trade === h.replacement.trade)
    t.is(ins?.seq, h.restored.seq, "as the bot's signed scale instruction names it")

    // The job: the digest the node reported is the one of a local run; its lease is closed.
    t.is(
      summary.job.reported,
      summary.job.expected,
      "the job's reported output digest matches a local run"
    )
    t.is(summary.job.reported.length, 64, 'a BLAKE2b-256')
    t.is((await client.trade(summary.job.trade))?.state, 'closed', "the job's lease is closed")
    t.is(
      stateOn(world.node(summary.job.node).daemon, summary.job.trade),
      'exited',
      'after its run exited on the node'
    )

    // The archive: 4 + 2 on six distinct DE nodes; one dies, the files come back, a spare rebuilds and proves.
    const ar = summary.archive
    t.is(new Set(ar.holders).size, 6, 'the archive has 6 holders on 6 nodes')
    t.ok(
      ar.holders.every((n) => world.node(n).spec.country === 'DE'),
      'in DE'
    )
    t.ok(ar.gotBack, 'its files came back byte for byte with a holder gone')
    t.ok(world.node(ar.lost).stopped, `${ar.lost} was stopped`)
    t.ok(!ar.holders.includes(ar.repaired.node), `the spare ${ar.repaired.node} rebuilt the shard`)
    t.ok(ar.repaired.proved, 'and proved it')
    t.is(
      stateOn(world.node(ar.repaired.node).daemon, ar.repaired.trade),
      'running',
      'it holds it all'
    )

    // The banking feature: 1.3.0 in force, signed by 2 of 3, running on both replicas.
    const bank = (await bot.writer(bot.state.find(summary.banking.id))).view
    t.is(
      bank.current.manifest.params.release,
      '1.3.0',
      "the banking contract's manifest in force is release 1.3.0"
    )
    t.ok(bank.thresholdReached(), 'signed off again for 1.3.0')
    t.alike(
      summary.banking.releases.map((x) => x.served),
      [
        ['1.2.0', '1.2.0'],
        ['1.3.0', '1.3.0']
      ],
      'both replicas served each release in turn'
    )
    for (const t2 of await client.trades({ state: 'settled' })) {
      if (t2.contract !== summary.banking.contract) continue
      const host = world.byKey(t2.node)
      t.is(
        host === null ? null : stateOn(host.daemon, t2.id),
        'running',
        `a banking replica runs on ${host?.spec.name ?? '?'}`
      )
    }

    // Money.
    const money = await moneyConserved(world.founder)
    t.ok(money.ok, `money is conserved: ${money.balances} + ${money.escrow} = ${money.minted}`)
    t.is(money.minted, 1_000_000, 'everything was minted by the one faucet deposit')
    t.ok(summary.money.ok, 'as the summary says')

    const printed = text()
    for (const line of [
      '3 indexers agree on the order book',
      'stakeholder legal signed (weight 1/2)',
      'stakeholder it signed (weight 2/2)',
      `runs again on ${h.replacement.node} with its ${h.contactsAfter} contact`,
      `restored from snapshot ${h.restored.seq} signed by ${h.stopped}`,
      'money is conserved'
    ]) {
      t.ok(printed.includes(line), `printed: ${line}`)
    }
    t.absent(/\bat .+\.js:\d+/.test(printed), 'no stack trace in the output')
    t.ok(encodeKey(world.founder.key) === summary.market.key, 'the summary names the market')

    t.alike(await world.close(), [], 'everything closes cleanly')
    t.absent(fs.existsSync(world.root), 'and the temp dir is removed')
  }
)

test(
  'scit demo --quick --no-sandbox as a child process: exits 0, prints the steps, the notice and the explorer tables, leaves no temp dir',
  { timeout: 200_000 },
  async (t) => {
    const tmp = await t.tmp()
    fs.chmodSync(tmp, 0o711) // the sandbox uid traverses the demo's temp dir to reach the work dirs
    const opts = {
      env: { ...process.env, TMPDIR: tmp },
      timeout: 150_000,
      maxBuffer: 16 * 1024 * 1024
    }
    // A failed run is this test's failure, with what the demo printed (a throw would stop the whole suite).
    const { stdout, stderr } = await run(
      process.execPath,
      [SCIT, 'demo', '--quick', '--no-sandbox'],
      opts
    ).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      t.fail(`the demo failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`)
      return { stdout: '', stderr: '' }
    })
    if (stdout === '') return
    // --no-sandbox takes the path of a machine without bubblewrap: the same demo, with a notice nobody can miss.
    for (const line of [
      'NO SANDBOX',
      'WITHOUT a sandbox',
      '3 indexers agree on the order book',
      'node zurich (',
      'Zurich CH) sells 2 cores',
      'published crm v1, archive v2, banking-feature v4, ai-mining v1',
      'stakeholder it signed (weight 2/2)',
      'the same as a local run',
      'rebuilt the shard from 4 holders and proved it',
      'release 1.3.0 serves on',
      'the bot gave up on zurich',
      'the CRM runs again on geneva with its 3 contacts, restored from snapshot',
      'signed by zurich',
      'money is conserved',
      '── trades',
      'demo complete in',
      'stopped; nothing left behind'
    ])
      t.ok(stdout.includes(line), `prints: ${line}`)
    t.is(stderr, '', 'nothing on stderr: no log noise, no stack trace')
    t.alike(fs.readdirSync(tmp), [], 'its temp dir is gone')
  }
)

test('a demo step that fails stops the demo with its reason and leaves no temp dir', async (t) => {
  const { out } = capture()
  const r = new Reporter({ out, live: false })
  r.captureLogs()
  t.teardown(() => r.release())
  const seen: { world: DemoWorld | null } = { world: null }
  // A patience of 1 ms: the first wait on the market (buying the CRM) gives up at once.
  await t.exception(
    runDemo({
      reporter: r,
      quick: true,
      patience: 1,
      onWorld: (w) => {
        seen.world = w
      }
    }),
    /buying capacity for the CRM took longer than/
  )
  t.ok(seen.world !== null, 'the world was up')
  t.absent(fs.existsSync(seen.world?.root ?? ''), 'and is gone, temp dir included')
})
