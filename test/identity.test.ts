import test from 'brittle'
import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import { loadIdentity, IDENTITY_FILE } from '../lib/identity'
import { encodeKey, decodeKey } from '../lib/keys'
import { isScitError } from '../lib/errors'

test('identity is created on first use with mode 0600 and loads again unchanged', async (t) => {
  const dir = path.join(await t.tmp(), 'data')
  const kp = loadIdentity(dir)
  const file = path.join(dir, IDENTITY_FILE)
  t.is(fs.statSync(file).mode & 0o777, 0o600)
  t.ok(b4a.equals(loadIdentity(dir).publicKey, kp.publicKey))
})

test('a key file readable by others is refused', async (t) => {
  const dir = await t.tmp()
  loadIdentity(dir)
  fs.chmodSync(path.join(dir, IDENTITY_FILE), 0o644)
  try {
    loadIdentity(dir)
    t.fail('loaded a world-readable key')
  } catch (err) {
    t.ok(isScitError(err, 'KEYSTORE'))
  }
})

test('a corrupt key file is refused with KEYSTORE', async (t) => {
  const dir = await t.tmp()
  fs.writeFileSync(
    path.join(dir, IDENTITY_FILE),
    '{"version":1,"publicKey":"00","secretKey":"00"}',
    { mode: 0o600 }
  )
  try {
    loadIdentity(dir)
    t.fail('loaded a corrupt key')
  } catch (err) {
    t.ok(isScitError(err, 'KEYSTORE'))
  }
})

test('keys round-trip through z32, and hex is accepted on input', (t) => {
  const key = b4a.alloc(32, 7)
  const text = encodeKey(key)
  t.is(text.length, 52)
  t.ok(b4a.equals(decodeKey(text), key))
  t.ok(b4a.equals(decodeKey(b4a.toString(key, 'hex')), key))
  for (const bad of ['', 'xyz', text.slice(1), text + 'y', '0'.repeat(63)]) {
    try {
      decodeKey(bad)
      t.fail(`accepted "${bad}"`)
    } catch (err) {
      t.ok(isScitError(err, 'INVALID_KEY'), `refused "${bad.slice(0, 10)}…"`)
    }
  }
})
