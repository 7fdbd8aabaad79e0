import test from 'brittle'
import b4a from 'b4a'
import c from 'compact-encoding'
import { seal, open, envelopeEncoding, MAX_ENVELOPE_BYTES, TYPES } from '../lib/envelope'
import { generateKeyPair } from '../lib/identity'
import { decodeExact } from '../lib/codec'
import { isScitError } from '../lib/errors'

const alice = generateKeyPair()
const bob = generateKeyPair()
const body = b4a.from('hello market')

function sealed(seq = 1): Buffer {
  return seal(alice, { type: 'bid', seq, timestamp: 1700000000000, body })
}

test('a sealed envelope opens with its fields and a stable id', (t) => {
  const buf = sealed()
  const r = open(buf)
  t.ok(r.ok)
  if (!r.ok) return
  t.is(r.envelope.type, TYPES.bid)
  t.ok(b4a.equals(r.envelope.author, alice.publicKey))
  t.is(r.envelope.seq, 1)
  t.is(r.envelope.timestamp, 1700000000000)
  t.ok(b4a.equals(r.envelope.body, body))
  const again = open(buf)
  t.ok(again.ok && again.id === r.id, 'same bytes, same id')
  const other = open(sealed(2))
  t.ok(other.ok && other.id !== r.id, 'different envelope, different id')
})

test('a tampered byte anywhere fails verification or decoding', (t) => {
  const buf = sealed()
  let refused = 0
  for (let i = 0; i < buf.byteLength; i++) {
    const copy = b4a.from(buf)
    copy[i] ^= 0x01
    const r = open(copy)
    if (!r.ok) refused++
  }
  t.is(refused, buf.byteLength, 'every single-bit flip is refused')
})

test('tampered body is a bad-signature', (t) => {
  const env = decodeExact(envelopeEncoding, sealed())
  env.body = b4a.from('hello marker')
  const r = open(c.encode(envelopeEncoding, env))
  t.is(r.ok, false)
  t.is(!r.ok && r.reason, 'bad-signature')
})

test('an envelope claimed by another key is a bad-signature', (t) => {
  const env = decodeExact(envelopeEncoding, sealed())
  env.author = bob.publicKey
  const r = open(c.encode(envelopeEncoding, env))
  t.is(!r.ok && r.reason, 'bad-signature')
})

test('a truncated buffer is malformed', (t) => {
  const buf = sealed()
  for (const n of [0, 1, 10, buf.byteLength - 1]) {
    const r = open(buf.subarray(0, n))
    t.is(!r.ok && r.reason, 'malformed', `truncated to ${n} bytes`)
  }
})

test('trailing bytes are malformed', (t) => {
  const r = open(b4a.concat([sealed(), b4a.from([0])]))
  t.is(!r.ok && r.reason, 'malformed')
})

test('an oversize envelope is refused when sealing and when opening', (t) => {
  t.exception(
    () =>
      seal(alice, { type: 'template', seq: 1, timestamp: 1, body: b4a.alloc(MAX_ENVELOPE_BYTES) }),
    /limit/
  )
  const r = open(b4a.alloc(MAX_ENVELOPE_BYTES + 1))
  t.is(!r.ok && r.reason, 'too-large')
})

test('an unknown type is refused, and so is a type the reader does not accept', (t) => {
  const env = decodeExact(envelopeEncoding, sealed())
  env.type = 999
  t.is(((r) => !r.ok && r.reason)(open(c.encode(envelopeEncoding, env))), 'unknown-type')
  t.is(
    ((r) => !r.ok && r.reason)(open(sealed(), { accept: new Set([TYPES.offer]) })),
    'unknown-type'
  )
})

test('a seq not above the last accepted one is a replay', (t) => {
  t.is(((r) => !r.ok && r.reason)(open(sealed(5), { lastSeq: 5 })), 'replay')
  t.is(((r) => !r.ok && r.reason)(open(sealed(4), { lastSeq: 5 })), 'replay')
  t.ok(open(sealed(6), { lastSeq: 5 }).ok)
})

test('sealing refuses negative or unsafe seq and timestamp', (t) => {
  for (const seq of [-1, 1.5, 2 ** 53]) {
    try {
      seal(alice, { type: 'bid', seq, timestamp: 1, body })
      t.fail(`seq ${seq} accepted`)
    } catch (err) {
      t.ok(isScitError(err, 'INVALID_ENVELOPE'), `seq ${seq}: INVALID_ENVELOPE`)
    }
  }
})
