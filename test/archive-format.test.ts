import test from 'brittle'
import b4a from 'b4a'
import Corestore from 'corestore'
import sodium from 'sodium-universal'
import { TreeBuilder, BlockVerifier } from '../lib/archive/merkle'
import {
  archiveKeys,
  FileSealer,
  FileOpener,
  cipherSize,
  MESSAGE,
  HEADER_BYTES,
  sealMeta,
  openMeta
} from '../lib/archive/seal'
import { planSegments, stripesOf, shardBytes } from '../lib/archive/layout'
import { generateKeyPair } from '../lib/identity'
import { isScitError } from '../lib/errors'
import type { TreeNode } from '../lib/node-messages'

function random(size: number): Buffer {
  const b = b4a.alloc(size)
  sodium.randombytes_buf(b)
  return b
}

test('a tree built outside a core has the hash the core has at that length', async (t) => {
  const store = new Corestore(await t.tmp())
  t.teardown(() => store.close())
  const core = store.get({ name: 'shard' })
  await core.ready()
  const tree = new TreeBuilder()
  for (let n = 1; n <= 37; n++) {
    const block = random(100 + ((n * 7919) % 3000))
    tree.append(block)
    await core.append(block)
    if (n % 6 === 1 || n === 37) {
      t.alike(tree.head().treeHash, await core.treeHash(), `length ${n}`)
      t.is(tree.byteLength, core.byteLength)
    }
  }
})

test("blocks verify against a head with the holder's paths; an altered block or path does not", async (t) => {
  const store = new Corestore(await t.tmp())
  t.teardown(() => store.close())
  const core = store.get({ name: 'shard' })
  await core.ready()
  const tree = new TreeBuilder()
  const blocks = Array.from({ length: 21 }, () => random(500))
  for (const b of blocks) tree.append(b)
  await core.append(blocks)
  await core.append(random(10)) // grown since: the head signed is at 21
  const head = tree.head()
  const rootsProof = await core.proof({ upgrade: { start: 0, length: 21 } })
  const roots = (rootsProof.upgrade?.nodes ?? []) as TreeNode[]
  const v = BlockVerifier.from(head, roots)
  if (!v) return t.fail('the roots of the core do not give the head')
  for (let i = 0; i < 21; i++) {
    const p = await core.proof({ block: { index: i, nodes: 0 }, upgrade: { start: 0, length: 21 } })
    const path = (p.block?.nodes ?? []) as TreeNode[]
    if (i === 5) {
      const bad = b4a.from(blocks[i])
      bad[0] ^= 1
      t.absent(v.verify(i, bad, path), 'an altered block is refused')
      t.absent(v.verify(i + 1, blocks[i], path), 'a block under another index is refused')
    }
    if (!v.verify(i, blocks[i], path)) t.fail(`block ${i} refused`)
  }
  t.pass('every block verified')
  t.is(
    BlockVerifier.from({ ...head, length: 20 }, roots),
    null,
    'roots of another length are refused'
  )
})

test('a file sealed message by message opens to the same bytes, and only in its place', (t) => {
  const { content } = archiveKeys(generateKeyPair().secretKey, random(32))
  const entry = random(32)
  for (const size of [0, 1, MESSAGE, MESSAGE + 1, 3 * MESSAGE - 5]) {
    const plain = random(size)
    const s = new FileSealer(content, entry, 2, size)
    const parts = [s.header]
    for (let at = 0; at < size || parts.length === 1; at += MESSAGE)
      parts.push(s.push(plain.subarray(at, at + MESSAGE)))
    const cipher = b4a.concat(parts)
    t.is(cipher.byteLength, cipherSize(size), `${size} bytes: ciphertext size as computed`)
    const o = new FileOpener(content, cipher.subarray(0, HEADER_BYTES), entry, 2, 'f')
    const back = parts.slice(1).map((p) => o.pull(p))
    t.ok(o.done && b4a.equals(b4a.concat(back), plain), `${size} bytes round trip`)
  }
  const s = new FileSealer(content, entry, 0, 10)
  const msg = s.push(random(10))
  const other = new FileOpener(content, s.header, entry, 1, 'x')
  try {
    other.pull(msg)
    t.fail('opened in another place')
  } catch (err) {
    t.ok(isScitError(err, 'VERIFICATION'), (err as Error).message)
  }
})

test('keys follow identity and contract; metadata opens only with its key', (t) => {
  const id = generateKeyPair()
  const contract = random(32)
  t.alike(
    archiveKeys(id.secretKey, contract),
    archiveKeys(id.secretKey, contract),
    'same inputs, same keys'
  )
  t.unlike(
    archiveKeys(id.secretKey, contract).content,
    archiveKeys(id.secretKey, random(32)).content
  )
  const meta = { name: 'docs', dir: true, files: [], dirs: ['a'], created: 1 }
  const sealed = sealMeta(archiveKeys(id.secretKey, contract).catalog, meta)
  t.alike(openMeta(archiveKeys(id.secretKey, contract).catalog, sealed), meta)
  try {
    openMeta(archiveKeys(generateKeyPair().secretKey, contract).catalog, sealed)
    t.fail('opened by another identity')
  } catch (err) {
    t.ok(isScitError(err, 'VERIFICATION'), (err as Error).message)
  }
})

test('an entry goes whole to the group with most room, else across groups, else the archive is full', (t) => {
  const B = 1024
  const one = planSegments(10_000, [4 * B, 9 * B, 2 * B], 4, B)
  t.alike(one, [{ group: 1, bytes: 10_000, block: B }], 'whole, in group 1')
  const split = planSegments(40 * B, [6 * B, 5 * B], 4, B)
  t.is(split.length, 2, 'split over two groups')
  t.is(split[0].bytes + split[1].bytes, 40 * B)
  t.ok(
    split.every((s) => shardBytes(s, 4) <= [6 * B, 5 * B][s.group]),
    'each within its room'
  )
  const refs = [...stripesOf(split, 4)]
  t.is(
    refs.reduce((n, r) => n + r.bytes, 0),
    40 * B,
    'the stripes cover the entry'
  )
  try {
    planSegments(100 * B, [6 * B, 5 * B], 4, B)
    t.fail('placed beyond the room')
  } catch (err) {
    t.ok(
      isScitError(err, 'CAPACITY') && /full/.test((err as Error).message),
      (err as Error).message
    )
  }
  t.alike(planSegments(0, [B], 4, B), [], 'nothing to place for an empty entry')
})
