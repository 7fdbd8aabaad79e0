import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import test from 'brittle'
import type { Assert } from 'brittle'
import { testnet } from './helpers/net'
import { archiveWorld, content, ArchiveWorld } from './helpers/archive'
import { runScit, bareTest, type Run } from './helpers/runtime'
import type { Runtime } from '../lib/runtime'
import type { Testnet } from '../lib/testnet'
import { encodeKey } from '../lib/keys'
import { put } from '../bot/archive-put'

/** A fresh data dir holding only the bot's identity.json: a new machine (the old one is gone: one identity, one peer). */
async function freshWith(t: Assert, a: ArchiveWorld): Promise<string> {
  await a.bot.close()
  const dir = await t.tmp()
  fs.copyFileSync(path.join(a.bot.opts.data, 'identity.json'), path.join(dir, 'identity.json'))
  fs.chmodSync(path.join(dir, 'identity.json'), 0o600)
  return dir
}

function getArgs(net: Testnet, a: ArchiveWorld, data: string, name: string, out: string): string[] {
  return [
    'bot',
    'archive',
    'get',
    a.d.contract ?? '',
    name,
    '--out',
    out,
    '--json',
    '--data',
    data,
    '--market',
    encodeKey(a.w.key),
    '--bootstrap',
    net.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  ]
}

/** Two groups of 4 + 2 on the same 6 nodes, one file across both. */
async function twoGroups(t: Assert): Promise<{ net: Testnet; a: ArchiveWorld; data: Buffer }> {
  const net = await testnet(t)
  const a = await archiveWorld(t, net, { capacity: '6MB', shard: '1MiB' })
  t.is(a.session.code.groups, 2, 'two groups of 6 holders')
  const data = content(5 * 1024 * 1024 + 11)
  const file = path.join(await t.tmp(), 'data.bin')
  fs.writeFileSync(file, data)
  const [r] = await put(a.session, [file])
  t.alike(r.groups.sort(), [0, 1], 'the file spans both groups')
  return { net, a, data }
}

test('with m holders of every group gone, identity.json alone on a new machine gets the file back (the real binary); with one more gone, get names the group and writes nothing', async (t) => {
  const { net, a, data } = await twoGroups(t)
  // every node holds one shard of each group: two nodes down is m = 2 holders of every group
  await a.nodes[0].close()
  await a.nodes[1].close()
  const fresh = await freshWith(t, a)
  const out = path.join(await t.tmp(), 'back.bin')
  const got = await runScit('node', getArgs(net, a, fresh, 'data.bin', out))
  t.is(got.code, 0, got.stderr)
  t.ok(b4a.equals(fs.readFileSync(out), data), 'byte for byte, from 4 of 6 holders of each group')
  t.is(JSON.parse(got.stdout).size, data.byteLength)

  await a.nodes[2].close()
  const again = path.join(path.dirname(out), 'again.bin')
  const refused = await runScit('node', getArgs(net, a, fresh, 'data.bin', again))
  t.is(refused.code, 1)
  t.ok(
    /^error UNAVAILABLE: group [01] of archive \S+ has 3 of its 6 holders answering: 3 are missing, more than the 2 it can lose/.test(
      refused.stderr
    ),
    refused.stderr.trim()
  )
  t.is(refused.stderr.trim().split('\n').length, 1, 'one line')
  t.absent(fs.existsSync(again), 'nothing under the final name')
  t.alike(
    fs.readdirSync(path.dirname(out)).filter((f) => f.includes('scit-partial')),
    [],
    'and no partial file left'
  )
})

bareTest(
  'scit on Bare gets an archived file back: npm run bare -- bot archive get …',
  async (t) => {
    const { net, a, data } = await twoGroups(t)
    const fresh = await freshWith(t, a)
    const out = path.join(await t.tmp(), 'back.bin')
    const got: Run = await runScit('bare' as Runtime, getArgs(net, a, fresh, 'data.bin', out))
    t.is(got.code, 0, got.stderr)
    t.ok(fs.existsSync(out) && b4a.equals(fs.readFileSync(out), data), 'byte for byte, on Bare')
  }
)
