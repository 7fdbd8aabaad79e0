import test from 'brittle'
import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import { testnet } from './helpers/net'
import { archiveWorld, content, tree } from './helpers/archive'
import { put } from '../bot/archive-put'
import { get } from '../bot/archive-get'
import { ls } from '../bot/archive-health'

test('files and a directory tree go in and come back byte for byte (0, 1 byte, odd sizes, MiBs)', async (t) => {
  const net = await testnet(t)
  const a = await archiveWorld(t, net)
  const files = {
    'empty.bin': b4a.alloc(0),
    'one.bin': b4a.from('x'),
    'odd.bin': content(300 * 1024 + 7),
    'big.bin': content(3 * 1024 * 1024 + 123),
    'sub/deeper/note.txt': b4a.from('hello archive\n')
  }
  const dir = await tree(t, files)
  fs.mkdirSync(path.join(dir, 'sub', 'empty-dir'))
  const single = path.join(await t.tmp(), 'alone.bin')
  fs.writeFileSync(single, content(1000 * 1000 + 1))
  const stored = await put(a.session, [dir, single])
  t.is(stored.length, 2, 'two entries')
  t.is(stored[0].files, 5)
  const names = (await ls(a.session)).map((r) => r.name)
  t.alike(names.sort(), [path.basename(dir), 'alone.bin'].sort(), 'ls lists both')

  const out = await t.tmp()
  const back = await get(a.session, path.basename(dir), { out: path.join(out, 'tree') })
  t.is(back.files, 5)
  for (const [rel, data] of Object.entries(files))
    t.ok(b4a.equals(fs.readFileSync(path.join(out, 'tree', rel)), data), `${rel} byte for byte`)
  t.ok(
    fs.statSync(path.join(out, 'tree', 'sub', 'empty-dir')).isDirectory(),
    'the empty directory too'
  )
  await get(a.session, 'alone.bin', { out: path.join(out, 'alone.bin') })
  t.ok(
    b4a.equals(fs.readFileSync(path.join(out, 'alone.bin')), fs.readFileSync(single)),
    'the single file'
  )
})
