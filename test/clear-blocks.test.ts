import test from 'brittle'
import type { Duplex } from 'stream'
import b4a from 'b4a'
import Corestore from 'corestore'
import { clearBlocks } from '../lib/clear-blocks'

// The soak's lost heals (bug L) and unreachable CRM node (K): a node's state core keeps block 0 and clears superseded
// file blocks after it; hypercore's clear() lost the tree nodes proving block 0, and a peer asking for it had the
// whole connection (node protocol, market, everything) destroyed, over and over.
test('blocks cleared after a kept block leave it provable: a peer reads it, and the connection stays up', async (t) => {
  const a = new Corestore(await t.tmp())
  const b = new Corestore(await t.tmp())
  t.teardown(() => Promise.all([a.close(), b.close()]))
  const core = a.get({ name: 'state' })
  await core.ready()
  for (let i = 0; i < 8; i++) await core.append(b4a.from(`block ${i}`))
  await clearBlocks(core, 1, 2)
  await clearBlocks(core, 3, 6)
  t.absent(await core.has(1), 'block 1 is cleared')
  t.absent(await core.has(5), 'block 5 is cleared')

  const s1 = a.replicate(true) as Duplex
  const s2 = b.replicate(false) as Duplex
  const errors: string[] = []
  s1.on('error', (err: Error) => errors.push(err.message))
  s2.on('error', () => {})
  s1.pipe(s2).pipe(s1)
  t.teardown(() => {
    s1.destroy()
    s2.destroy()
  })
  const copy = b.get({ key: core.key })
  await copy.ready()
  for (const i of [0, 2, 6, 7]) {
    const block = await copy.get(i, { timeout: 10_000 }).catch((err: Error) => err.message)
    t.alike(block, b4a.from(`block ${i}`), `block ${i}, kept, is read with its proof`)
  }
  t.alike(errors, [], 'the serving side never failed its stream')
  t.absent(s1.destroyed, 'the connection is still up')
})
