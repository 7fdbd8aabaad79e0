/**
 * A bot marks the length of each contract core it writes (lib/store.ts CoreMarks, as a node marks its status core and
 * an indexer its writer core): a store RocksDB opened on an older state is refused (CORRUPT) before the bot appends
 * to a contract core there and forks it under the nodes that replicate it. A file a crash cut short, which the
 * contract's writer drops as it opens, lowers the mark with it.
 */
import test from 'brittle'
import fs from 'fs'
import path from 'path'
import c from 'compact-encoding'
import { bot, killedAfterContract } from './helpers/deploy'
import { MARKS_FILE } from '../lib/store'
import { blobMarkerEncoding } from '../lib/contract-messages'
import { decodeKey } from '../lib/keys'
import { isScitError } from '../lib/errors'
import type { World } from './helpers/deploy'
import type { Assert } from 'brittle'

type Marks = Record<string, { length: number; whole: boolean }>

/** The bot on `data` opened, its contract `id`'s core length read; then closed. Its open's error, if any. */
async function opened(t: Assert, w: World, data: string, id: string): Promise<number | Error> {
  try {
    const b = await bot(t, w, { data, fund: 0 })
    const length = (await b.writer(b.state.find(id))).core.length
    await b.close()
    return length
  } catch (err) {
    return err as Error
  }
}

test("a bot refuses a store shorter than a contract core's mark (CORRUPT); a file a crash cut short, dropped, lowers its mark", async (t) => {
  const { w, data } = await killedAfterContract(t, 'marked')
  const file = path.join(data, 'bot', 'corestore', MARKS_FILE)
  const read = (): Marks => JSON.parse(fs.readFileSync(file, 'utf8')) as Marks

  // a file cut short by a crash: its marker and one chunk of three appended, the bot gone
  const b = await bot(t, w, { data, fund: 0 })
  const d = b.state.find('marked')
  const key = decodeKey(d.contract ?? '', 'contract core').toString('hex')
  const cw = await b.writer(d)
  await cw.writeHeader(b.manifestOf(d)) // killed before it wrote one
  const core = cw.core
  const length = core.length
  await core.append([
    c.encode(blobMarkerEncoding, { tag: 0, blocks: 3, size: 3 * 65536 }),
    Buffer.alloc(65536)
  ])
  await b.close()
  t.is(read()[key]?.length, length + 2, "the bot marked its contract core's length")

  t.is(await opened(t, w, data, 'marked'), length, 'reopened, the cut-short file is dropped')
  t.is(read()[key]?.length, length, 'and the mark with it')
  t.is(await opened(t, w, data, 'marked'), length, 'so the store opens again')

  const marks = read()
  marks[key].length += 5 // as if the store lost the last 5 blocks of the contract core
  fs.writeFileSync(file, JSON.stringify(marks))
  const err = await opened(t, w, data, 'marked')
  t.ok(isScitError(err, 'CORRUPT'), `refused: ${String(err)}`)
})
