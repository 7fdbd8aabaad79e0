import test from 'brittle'
import b4a from 'b4a'
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
