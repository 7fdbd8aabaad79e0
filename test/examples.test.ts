import test from 'brittle'
import fs from 'fs'
import path from 'path'
import { execFile } from 'child_process'
import { promisify } from 'util'
import { encodeKey } from '../lib/keys'
import { loadIdentity, generateKeyPair, importIdentity } from '../lib/identity'
import { loadTemplate } from '../bot/template'
import { instantiate } from '../bot/manifest'
import { exampleStakeholder, EXAMPLE_ROLES } from '../examples/stakeholders'
import { EXAMPLES } from './helpers/bot'
import { GiB, hourlyCost, Resources } from '../lib/resources'
import { sellable } from '../node/capacity'
import { DEFAULT_PRICES } from '../node/offer'

const run = promisify(execFile)
const SCIT = path.join(__dirname, '..', 'lib', 'cli.js')

test('the crm and banking-feature examples name the example stakeholders, in their roles', async (t) => {
  const crm = await instantiate(loadTemplate(path.join(EXAMPLES, 'crm.yaml')))
  t.is(crm.manifest.stakeholders.threshold, 2, 'the CRM needs legal and IT')
  t.alike(
    crm.manifest.stakeholders.signers.map((s) => [s.role, encodeKey(s.key)]),
    [
      ['legal', encodeKey(exampleStakeholder('legal').publicKey)],
      ['it', encodeKey(exampleStakeholder('it').publicKey)]
    ]
  )
  const bank = await instantiate(loadTemplate(path.join(EXAMPLES, 'banking-feature.yaml')))
  t.is(bank.manifest.stakeholders.threshold, 2, 'the banking feature needs 2 of 3')
  t.alike(
    bank.manifest.stakeholders.signers.map((s) => [s.role, encodeKey(s.key)]),
    EXAMPLE_ROLES.map((r) => [r, encodeKey(exampleStakeholder(r).publicKey)])
  )
})

test('every example has a line on how to deploy it in examples/README.md', async (t) => {
  const readme = fs.readFileSync(path.join(EXAMPLES, 'README.md'), 'utf8')
  for (const f of fs.readdirSync(EXAMPLES).filter((x) => x.endsWith('.yaml')))
    t.ok(readme.includes(`scit bot deploy examples/${f}`), f)
})

test('scit demo stakeholder ROLE makes a data dir sign as that example stakeholder', async (t) => {
  const data = path.join(await t.tmp(), 'legal')
  const { stdout } = await run(process.execPath, [
    SCIT,
    'demo',
    'stakeholder',
    'legal',
    '--data',
    data,
    '--json'
  ])
  const key = encodeKey(exampleStakeholder('legal').publicKey)
  t.is(JSON.parse(stdout).publicKey, key)
  t.is(
    encodeKey(loadIdentity(data, { create: false }).publicKey),
    key,
    'its identity.json holds the legal key'
  )
  t.is(
    fs.statSync(path.join(data, 'identity.json')).mode & 0o777,
    0o600,
    'readable by its owner only'
  )
  const again = await run(process.execPath, [SCIT, 'demo', 'stakeholder', 'legal', '--data', data])
  t.ok(again.stdout.includes(key), 'running it again on the same dir is fine')
})

test('importIdentity never replaces another identity', async (t) => {
  const data = await t.tmp()
  const mine = loadIdentity(data)
  t.exception(() => importIdentity(data, generateKeyPair()), /already holds identity/)
  t.alike(loadIdentity(data).publicKey, mine.publicKey, 'the data dir keeps its own key')
  await t.exception(
    run(process.execPath, [SCIT, 'demo', 'stakeholder', 'budget', '--data', data]),
    /KEYSTORE/,
    'the CLI says so'
  )
})

test("the README's CRM deploys fit a node on a 2-core machine, at the README's node prices and the defaults, within the template's budget", async (t) => {
  const readme = fs.readFileSync(path.join(EXAMPLES, '..', 'README.md'), 'utf8')
  const start =
    /scit node start [^`]*?--price-cpu (\d+) --price-memory (\d+) --price-ssd (\d+)/.exec(readme)
  if (start === null) return t.fail('no scit node start with prices in the README')
  const prices: Resources = {
    ...DEFAULT_PRICES,
    cpu: Number(start[1]),
    memory: Number(start[2]),
    ssd: Number(start[3])
  }
  const machine = sellable({ cpu: 2000, memory: 4 * GiB, disk: 100 * GiB, rotational: false })
  const users = [...readme.matchAll(/examples\/crm\.yaml --set users=(\d+)/g)].map((m) =>
    Number(m[1])
  )
  t.ok(users.length > 0, 'the README deploys the CRM')
  const tpl = loadTemplate(path.join(EXAMPLES, 'crm.yaml'))
  for (const n of users) {
    const w = (await instantiate(tpl, { users: n })).manifest.workloads[0]
    t.ok(
      w.resources.cpu <= machine.cpu,
      `users=${n}: ${w.resources.cpu}m of cpu fits the ${machine.cpu}m a 2-core node sells`
    )
    for (const [what, p] of [
      ['README', prices],
      ['default', DEFAULT_PRICES]
    ] as const) {
      const cost = hourlyCost(w.resources, p)
      t.ok(
        cost > 0 && cost <= w.budget,
        `users=${n}: ${cost}/h at the ${what} prices, within the budget of ${w.budget}/h`
      )
    }
  }
})
