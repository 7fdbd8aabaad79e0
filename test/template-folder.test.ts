/**
 * A template sees only its own folder: every way out of it (`..`, absolute,
 * `~`, a link inside the folder, a link on a parent path, the template file
 * itself a link) is refused by the real binary, and a deploy of such a
 * template buys nothing and writes nothing.
 */
import test from 'brittle'
import type { Assert } from 'brittle'
import fs from 'fs'
import path from 'path'
import { spawnSync } from 'child_process'
import { runScit } from './helpers/runtime'
import { testnet } from './helpers/net'
import { world } from './helpers/deploy'
import { funded } from './helpers/cli'
import { encodeKey } from '../lib/keys'
import { BotState } from '../bot/records'

/** A folder outside the template's, holding a secret; the template's folder beside it. */
async function layout(t: Assert): Promise<{ dir: string; outside: string }> {
  const base = await t.tmp()
  const outside = path.join(base, 'secrets')
  fs.mkdirSync(path.join(outside, 'keys'), { recursive: true })
  fs.writeFileSync(path.join(outside, 'keys', 'id_ed25519'), 'SECRET\n')
  const dir = path.join(base, 'tpl')
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'app.js'), 'console.log(1)\n')
  return { dir, outside }
}

function yaml(files: string): string {
  return [
    'name: escape',
    'version: 1',
    'workloads:',
    '  - name: w',
    '    kind: job',
    `    files: [${JSON.stringify(files)}]`,
    '    command: [node, app.js]',
    'duration: 1h',
    'budget: 100',
    ''
  ].join('\n')
}

/** Each way out: a name, the `files:` entry, and what to set up in the folder first. */
const ESCAPES: Array<[string, string, (dir: string, outside: string) => void]> = [
  ['..', '../secrets/keys/', () => {}],
  ['an absolute path', '/etc/hostname', () => {}],
  ['~', '~/.ssh/id_ed25519', () => {}],
  [
    'a link inside the folder pointing out',
    'conf/',
    (dir, outside) => {
      fs.mkdirSync(path.join(dir, 'conf'))
      fs.writeFileSync(path.join(dir, 'conf', 'ok.json'), '{}\n')
      fs.symlinkSync(path.join(outside, 'keys'), path.join(dir, 'conf', 'keys'))
    }
  ],
  [
    'a link on a parent path',
    'lib/id_ed25519',
    (dir, outside) => fs.symlinkSync(path.join(outside, 'keys'), path.join(dir, 'lib'))
  ],
  [
    'a link to a file outside',
    'key',
    (dir, outside) =>
      fs.symlinkSync(path.join(outside, 'keys', 'id_ed25519'), path.join(dir, 'key'))
  ]
]

async function escapes(t: Assert): Promise<Array<{ name: string; file: string }>> {
  const out = []
  for (const [name, entry, setup] of ESCAPES) {
    const { dir, outside } = await layout(t)
    setup(dir, outside)
    const file = path.join(dir, 'tpl.yaml')
    fs.writeFileSync(file, yaml(entry))
    out.push({ name, file })
  }
  return out
}

const LEAVES =
  /^error TEMPLATE: \S*tpl\.yaml:6:13: workloads\[0\]\.files\[0\] "[^"]+" leaves the template's folder/

test("scit bot template check refuses every way out of the template's folder, and prints nothing of what lies outside", async (t) => {
  for (const { name, file } of await escapes(t)) {
    const r = await runScit('node', ['bot', 'template', 'check', file])
    t.is(r.code, 1, `${name}: exit 1`)
    t.ok(LEAVES.test(r.stderr), `${name}: ${r.stderr.trim()}`)
    t.is(r.stdout, '', `${name}: no manifest, no hash of the file`)
    t.absent(r.stderr.includes('SECRET'), `${name}: nothing of the file`)
  }
})

test('a template that is itself a link sees the folder it really is in, not the link’s', async (t) => {
  const { dir, outside } = await layout(t)
  const file = path.join(dir, 'tpl.yaml')
  fs.writeFileSync(file, yaml('keys/id_ed25519'))
  const link = path.join(outside, 'tpl.yaml')
  fs.symlinkSync(file, link)
  const r = await runScit('node', ['bot', 'template', 'check', link])
  t.is(r.code, 1)
  t.ok(/"keys\/id_ed25519" does not exist \(looked in [^)]*tpl\)/.test(r.stderr), r.stderr)
})

test('inside the folder: links that stay in are followed, a pipe and a loop are refused, two names for one file are refused', async (t) => {
  const { dir } = await layout(t)
  fs.mkdirSync(path.join(dir, 'site', 'v2'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'site', 'v2', 'index.html'), 'hi\n')
  fs.symlinkSync('v2', path.join(dir, 'site', 'current'))
  const file = path.join(dir, 'tpl.yaml')
  fs.writeFileSync(file, yaml('site/'))
  const ok = await runScit('node', ['bot', 'template', 'check', file, '--json'])
  t.is(ok.code, 0, ok.stderr)
  t.alike(
    JSON.parse(ok.stdout)[0].manifest.workloads[0].files.map((f: { path: string }) => f.path),
    ['current/index.html', 'v2/index.html'],
    'a link to a folder inside is shipped as that folder'
  )

  fs.symlinkSync('..', path.join(dir, 'site', 'v2', 'up'))
  const loop = await runScit('node', ['bot', 'template', 'check', file])
  t.ok(/site\/(current|v2)\/up is a link back to a folder it is in/.test(loop.stderr), loop.stderr)
  fs.unlinkSync(path.join(dir, 'site', 'v2', 'up'))

  t.is(spawnSync('mkfifo', [path.join(dir, 'site', 'pipe')]).status, 0, 'mkfifo')
  const pipe = await runScit('node', ['bot', 'template', 'check', file])
  t.ok(/site\/pipe is not a regular file or a folder/.test(pipe.stderr), pipe.stderr)

  fs.writeFileSync(file, yaml('app.js').replace('files: ["app.js"]', 'files: [app.js, up/]'))
  fs.mkdirSync(path.join(dir, 'up'))
  fs.writeFileSync(path.join(dir, 'up', 'App.js'), '2\n')
  const twice = await runScit('node', ['bot', 'template', 'check', file])
  t.ok(/"app\.js" and "App\.js" would land on one file/.test(twice.stderr), twice.stderr)
})

test('a deploy of each escaping template is refused before anything is bought or written', async (t) => {
  const net = await testnet(t)
  const w = await world(t, net)
  const { data, identity } = await funded(t, w.founder)
  const balance = await w.founder.client.balance(encodeKey(identity.publicKey))
  const flags = [
    '--data',
    data,
    '--market',
    encodeKey(w.key),
    '--bootstrap',
    net.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  ]
  for (const { name, file } of await escapes(t)) {
    const r = await runScit('node', ['bot', 'deploy', file, ...flags])
    t.is(r.code, 1, `${name}: exit 1`)
    t.ok(LEAVES.test(r.stderr), `${name}: ${r.stderr.trim()}`)
  }
  t.is(await w.founder.client.balance(encodeKey(identity.publicKey)), balance, 'the same balance')
  t.is((await w.founder.client.bids({ bot: encodeKey(identity.publicKey) })).length, 0, 'no bid')
  t.is(new BotState(data).load().deployments.length, 0, 'no deployment recorded')
  t.absent(fs.existsSync(path.join(data, 'bot')), 'no contract core, nothing under the data dir')
})
