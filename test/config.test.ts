import test from 'brittle'
import b4a from 'b4a'
import fs from 'fs'
import path from 'path'
import { runScit } from './helpers/runtime'
import { resolveConfig, parseBootstrap, writeConfigFile } from '../lib/config'
import { encodeKey } from '../lib/keys'
import { marketTopic } from '../lib/topics'
import { isScitError } from '../lib/errors'

const k1 = encodeKey(b4a.alloc(32, 1))
const k2 = encodeKey(b4a.alloc(32, 2))
const k3 = encodeKey(b4a.alloc(32, 3))

test('flags beat the environment, which beats config.json', async (t) => {
  const data = await t.tmp()
  writeConfigFile(data, { market: k1, bootstrap: '10.0.0.1:1' })
  t.is(encodeKey(resolveConfig({ data }, {}).market!), k1, 'file')
  t.is(encodeKey(resolveConfig({ data }, { SCIT_MARKET: k2 }).market!), k2, 'env over file')
  t.is(
    encodeKey(resolveConfig({ data, market: k3 }, { SCIT_MARKET: k2 }).market!),
    k3,
    'flag over env'
  )
  t.alike(
    resolveConfig({ data, bootstrap: '127.0.0.1:5' }, { SCIT_BOOTSTRAP: '127.0.0.1:6' }).bootstrap,
    [{ host: '127.0.0.1', port: 5 }]
  )
  t.alike(resolveConfig({}, { SCIT_DATA: data }).data, data, 'SCIT_DATA')
})

test('no bootstrap means the public DHT', async (t) => {
  t.is(resolveConfig({ data: await t.tmp() }, {}).bootstrap, null)
})

test('bootstrap lists parse and bad ones are refused', (t) => {
  t.alike(parseBootstrap('127.0.0.1:49737,localhost:1'), [
    { host: '127.0.0.1', port: 49737 },
    { host: 'localhost', port: 1 }
  ])
  for (const bad of ['host', 'host:0', 'host:70000', ':80', ',']) {
    try {
      parseBootstrap(bad)
      t.fail(`accepted "${bad}"`)
    } catch (err) {
      t.ok(isScitError(err, 'INVALID_CONFIG'), `refused "${bad}"`)
    }
  }
})

test('a bad market key in config is a clear error', async (t) => {
  const data = await t.tmp()
  try {
    resolveConfig({ data, market: 'not-a-key' }, {})
    t.fail('accepted')
  } catch (err) {
    t.ok(isScitError(err, 'INVALID_KEY'))
  }
})

test('the market topic is derived from the market key, and differs from it', (t) => {
  const key = b4a.alloc(32, 9)
  t.ok(b4a.equals(marketTopic(key), marketTopic(b4a.from(key))))
  t.absent(b4a.equals(marketTopic(key), key))
  t.absent(b4a.equals(marketTopic(key), marketTopic(b4a.alloc(32, 8))))
})

test('config.json is checked against its schema when read: each wrong field is INVALID_CONFIG naming the file and the field, from the real binary', async (t) => {
  const cases: Array<[string, string]> = [
    ['{"market": 5}', 'market must be a market key (text), not the number 5'],
    ['{"market": ["x"]}', 'market must be a market key (text), not a list'],
    ['{"market": "abc"}', 'market key must be 52 z-base-32 or 64 hex characters, got "abc"'],
    ['{"bootstrap": 7}', 'bootstrap must be a list of "host:port"'],
    ['{"bootstrap": {"host": "a"}}', 'bootstrap must be a list of "host:port"'],
    [
      '{"bootstrap": ["127.0.0.1:1", 7]}',
      'bootstrap[1] must be "host:port" text, not the number 7'
    ],
    ['{"bootstrap": ["127.0.0.1:99999"]}', 'bootstrap "127.0.0.1:99999" is not host:port'],
    ['{"bootstrap": "nope"}', 'bootstrap "nope" is not host:port'],
    ['{"bootstrap": []}', 'bootstrap list is empty'],
    ['{"markt": "x"}', 'unknown field "markt" (known: market, bootstrap)'],
    ['[1, 2]', 'must hold a JSON object'],
    ['null', 'must hold a JSON object'],
    ['{"market": ', 'not JSON'],
    [' '.repeat(70 * 1024), 'is 71680 bytes: at most 65536']
  ]
  const runs = await Promise.all(
    cases.map(async ([content]) => {
      const data = await t.tmp()
      fs.writeFileSync(path.join(data, 'config.json'), content)
      return { data, r: await runScit('node', ['id', '--data', data]) }
    })
  )
  runs.forEach(({ data, r }, i) => {
    const [content, why] = cases[i]
    t.is(r.code, 1, `${content.slice(0, 40)}: exit 1`)
    t.ok(
      r.stderr.startsWith(`error INVALID_CONFIG: ${path.join(data, 'config.json')}: ${why}`),
      r.stderr
    )
    t.absent(fs.existsSync(path.join(data, 'identity.json')), 'nothing written')
  })
  const good = await t.tmp()
  fs.writeFileSync(
    path.join(good, 'config.json'),
    JSON.stringify({ market: k1, bootstrap: ['127.0.0.1:5', 'localhost:6'] })
  )
  t.alike(
    resolveConfig({ data: good }, {}).bootstrap,
    [
      { host: '127.0.0.1', port: 5 },
      { host: 'localhost', port: 6 }
    ],
    'a list of host:port is a bootstrap too'
  )
})
