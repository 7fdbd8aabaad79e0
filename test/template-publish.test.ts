/**
 * Published templates carry their files. Their names come from strangers, so
 * a name that would leave the template's folder (or land on another file) is
 * refused when publishing (the CLI, then the market), when a bot unpacks it
 * to deploy, and by the node before it writes (node-refusals.test.ts).
 */
import test from 'brittle'
import type { Assert } from 'brittle'
import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import { loadTemplate } from '../bot/template'
import { instantiate } from '../bot/manifest'
import { publishBody, unpackTemplate } from '../bot/template-publish'
import type { Template as Published, TemplateFile } from '../market/types'
import { encodeKey } from '../lib/keys'
import { BotState } from '../bot/records'
import { runScit } from './helpers/runtime'
import { testnet } from './helpers/net'
import { world } from './helpers/deploy'
import { funded } from './helpers/cli'

const DOC = [
  'name: site',
  'version: 1',
  'workloads:',
  '  - name: web',
  '    kind: service',
  '    files: [server.js, www/]',
  '    command: [node, server.js]',
  '    ports: [8080]',
  'duration: 1h',
  'budget: 100',
  ''
].join('\n')

async function siteTemplate(t: Assert): Promise<string> {
  const dir = await t.tmp()
  fs.writeFileSync(path.join(dir, 'server.js'), 'require("http")\n')
  fs.mkdirSync(path.join(dir, 'www', 'v2'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'www', 'v2', 'index.html'), '<p>hi</p>\n')
  fs.symlinkSync('v2', path.join(dir, 'www', 'current'))
  fs.writeFileSync(path.join(dir, 'site.yaml'), DOC)
  return path.join(dir, 'site.yaml')
}

function record(files: TemplateFile[], name = 'site'): Published {
  return {
    name,
    version: 1,
    document: b4a.from(DOC),
    files,
    author: encodeKey(b4a.alloc(32, 7)),
    id: 'x',
    time: 0
  }
}

test('a published template carries its files: unpacked by a bot, it instantiates to the same manifest', async (t) => {
  const file = await siteTemplate(t)
  const body = publishBody(loadTemplate(file))
  t.alike(
    (body.files ?? []).map((f) => f.path),
    ['server.js', 'www/current/index.html', 'www/v2/index.html'],
    'each file by its path in the folder; a link inside is carried as a file'
  )
  const root = await t.tmp()
  const { file: doc, folder } = unpackTemplate(root, { ...record(body.files ?? []) })
  t.is(doc, path.join(root, 'site@1.yaml'))
  const local = await instantiate(loadTemplate(file))
  const unpacked = await instantiate(loadTemplate(doc, folder))
  t.alike(unpacked.hash, local.hash, 'the same manifest hash as from the author’s folder')
  t.is(fs.readFileSync(path.join(folder, 'server.js'), 'utf8'), 'require("http")\n')
})

test('a published template whose file names leave its folder, or land on one file, is refused by the bot that would unpack it, and nothing is written', async (t) => {
  const data = b4a.from('x\n')
  const cases: Array<[string, TemplateFile[], RegExp]> = [
    [
      '..',
      [{ path: '../../.bashrc', data }],
      /"..\/..\/.bashrc" would leave the template's folder/
    ],
    ['an absolute name', [{ path: '/etc/cron.d/x', data }], /would leave the template's folder/],
    ['a . part', [{ path: 'a/./b', data }], /would leave the template's folder/],
    ['an empty part', [{ path: 'a//b', data }], /would leave the template's folder/],
    ['a backslash', [{ path: '..\\x', data }], /would leave the template's folder/],
    [
      'names equal once case-folded',
      [
        { path: 'App.js', data },
        { path: 'app.js', data }
      ],
      /"App.js" and "app.js" would land on one file/
    ],
    [
      'names equal once NFC-normalised',
      [
        { path: 'caf\u00e9', data },
        { path: 'cafe\u0301', data }
      ],
      /would land on one file/
    ],
    [
      'a file another needs as a folder',
      [
        { path: 'lib', data },
        { path: 'lib/x.js', data }
      ],
      /"lib" and "lib\/x.js" would land on one file/
    ]
  ]
  for (const [name, files, want] of cases) {
    const base = await t.tmp()
    const root = path.join(base, 'templates')
    t.exception(() => unpackTemplate(root, record(files)), want, name)
    t.alike(fs.readdirSync(base), [], `${name}: nothing written`)
  }
  const base = await t.tmp()
  t.exception(
    () => unpackTemplate(path.join(base, 't'), record([], '../evil')),
    /not a template name and version/,
    'a name that is a path'
  )
  t.alike(fs.readdirSync(base), [])
})

test('publish refuses a template whose files leave its folder before it connects; the market refuses a forged op; a bot refuses to deploy a published template whose names clash: nothing bought, nothing written', async (t) => {
  const net = await testnet(t)
  const w = await world(t, net)
  const { data, identity } = await funded(t, w.founder)
  const me = encodeKey(identity.publicKey)
  const flags = [
    '--data',
    data,
    '--market',
    encodeKey(w.key),
    '--bootstrap',
    net.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  ]

  const dir = await t.tmp()
  fs.writeFileSync(path.join(dir, 'site.yaml'), DOC.replace('www/', '../'))
  fs.writeFileSync(path.join(dir, 'server.js'), '1\n')
  const pub = await runScit('node', [
    'bot',
    'template',
    'publish',
    path.join(dir, 'site.yaml'),
    ...flags
  ])
  t.is(pub.code, 1)
  t.ok(/^error TEMPLATE: .*"\.\.\/" leaves the template's folder/.test(pub.stderr), pub.stderr)

  const [forged] = await w.founder.client.submitAndWait([
    {
      type: 'template',
      body: {
        name: 'evil',
        version: 1,
        document: b4a.from(DOC),
        files: [{ path: '../x', data: b4a.from('1') }]
      }
    }
  ])
  t.is(forged.accepted, false, 'the market refuses a file name that leaves the folder')
  t.ok(/not a relative path inside its folder/.test(forged.message ?? ''), forged.message ?? '')

  const [clash] = await w.founder.client.submitAndWait([
    {
      type: 'template',
      body: {
        name: 'clash',
        version: 1,
        document: b4a.from(DOC.replace('files: [server.js, www/]', 'files: [.]')),
        files: [
          { path: 'server.js', data: b4a.from('1') },
          { path: 'Server.js', data: b4a.from('2') }
        ]
      }
    }
  ])
  t.ok(clash.accepted, 'names that differ only in case pass the market (readers check)')
  const balance = await w.founder.client.balance(me)
  const dep = await runScit('node', ['bot', 'deploy', 'clash@1', ...flags])
  t.is(dep.code, 1)
  t.ok(
    /^error TEMPLATE: clash@1 \(published by \w+\) is refused: files "server.js" and "Server.js" would land on one file/.test(
      dep.stderr
    ),
    dep.stderr
  )
  t.is(await w.founder.client.balance(me), balance, 'the same balance')
  t.is((await w.founder.client.bids({ bot: me })).length, 0, 'no bid')
  t.is(new BotState(data).load().deployments.length, 0, 'no deployment recorded')
  t.absent(fs.existsSync(path.join(data, 'bot', 'templates')), 'nothing unpacked')
})
