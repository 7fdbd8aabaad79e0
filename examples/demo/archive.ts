/**
 * The archive story (examples/archive.yaml, scaled down): files encrypted by
 * the bot and coded 4 + 2 over six DE nodes; one holder dies, the files still
 * come back from the others, and the bot has a spare node rebuild the lost
 * shard from four holders, then proves it.
 */
import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import sodium from 'sodium-universal'
import { ScitError } from '../../lib/errors'
import { formatSize } from '../../lib/resources'
import { hashFile } from '../../lib/contract'
import { deploy, waitRunning } from '../../bot/deployment'
import { ArchiveSession } from '../../bot/archive-session'
import { put } from '../../bot/archive-put'
import { get } from '../../bot/archive-get'
import { Stage, EXAMPLES, nodeName, within, live, reached } from './stage'
import safetyCatch from 'safety-catch'

export interface ArchiveResult {
  id: string
  contract: string
  country: string
  code: string
  holders: string[]
  stored: { files: number; size: number }
  /** After one holder died: the files came back whole. */
  gotBack: boolean
  lost: string
  repaired: { node: string; trade: string; proved: boolean; seconds: number }
}

const COUNTRY = 'DE'

export async function archive(s: Stage): Promise<ArchiveResult> {
  const { bot, r, world } = s
  r.wait(`the bot plans 8 MB coded 4 + 2 in ${COUNTRY}: one group of 6 hdd nodes, one shard each`)
  const d = await within(
    s,
    'deploying the archive',
    deploy(bot, {
      template: path.join(EXAMPLES, 'archive.yaml'),
      set: { capacity: '8MB', country: COUNTRY, data: '4', parity: '2' },
      id: 'archive'
    })
  )
  await waitRunning(bot, d, { deadline: Date.now() + s.patience })
  const holders = live(d).map((t) => nodeName(s, t.node))
  r.ok(
    `bought 6 holders in ${COUNTRY}: ${holders.join(', ')}; contract ${(d.contract ?? '').slice(0, 8)}…`,
    'a bid per group, all or none, each shard on its own node; the catalog names which trade holds which shard'
  )

  const input = world.dir('archive-input')
  fs.cpSync(path.join(EXAMPLES, 'ai-mining', 'input'), input, { recursive: true })
  const scan = b4a.alloc(1536 * 1024)
  sodium.randombytes_buf(scan)
  fs.writeFileSync(path.join(input, 'scan.bin'), scan)
  const session = await ArchiveSession.open(bot, d.id)
  r.wait('putting a folder of 4 files into it')
  const [stored] = await within(s, 'the put', put(session, [input], { as: 'documents' }))
  r.ok(
    `put documents/: ${stored.files} files, ${formatSize(stored.size)}, encrypted by the bot (a key from its identity and the contract), coded into ${formatSize(stored.stored)} on the 6 holders`,
    'no node holds a byte of it in the clear; the catalog (names, sizes, hashes) is sealed in the contract core'
  )

  const victim = live(d).find((t) => world.byKey(t.node)?.spec.light === true)
  if (!victim) throw new ScitError('DEMO', 'no light node holds a shard of the archive')
  const lost = nodeName(s, victim.node)
  const mine = (detail: string): boolean => detail.startsWith(`${d.id}:`)
  const healing = reached(bot, 'healed', mine)
  const failed = reached(bot, 'heal-failed', mine).then((detail) => {
    throw new ScitError('DEMO', `the bot could not repair the archive: ${detail}`)
  })
  failed.catch(safetyCatch)
  const t0 = Date.now()
  await world.stopNode(lost)
  r.ok(`node ${lost} stopped, as if its machine died, with its shard`)

  const out = path.join(world.dir('archive-output'), 'documents')
  const back = await within(s, 'the get', get(session, 'documents', { out, reach: 3000 }))
  let same = true
  for (const f of fs.readdirSync(input)) {
    const [a, b] = await Promise.all([hashFile(path.join(input, f)), hashFile(path.join(out, f))])
    same &&= a.size === b.size && a.hash.equals(b.hash)
  }
  if (!same) throw new ScitError('DEMO', 'the archive gave back other bytes')
  r.ok(
    `got documents/ back byte for byte from the 5 holders left (${back.files} files, every hash checked)`,
    'each stripe from the first 4 holders that answer; any 2 of the 6 may be lost'
  )

  r.wait(`the bot gives up on ${lost} and has a spare node rebuild its shard`)
  await within(s, 'the repair', Promise.race([healing, failed]))
  const fresh = d.trades.find((t) => t.replaces === victim.id)
  if (!fresh) throw new ScitError('DEMO', 'no replacement holder was bought')
  await waitRunning(bot, d, { deadline: Date.now() + s.patience })
  const proved = await within(s, 'a storage challenge', bot.monitor.challenge(d, fresh))
  if (!proved)
    throw new ScitError('DEMO', `${nodeName(s, fresh.node)} failed its storage challenge`)
  const seconds = (Date.now() - t0) / 1000
  r.ok(
    `${nodeName(s, fresh.node)} rebuilt the shard from 4 holders and proved it, ${seconds.toFixed(1)}s after ${lost} died`,
    "every block fetched checked against its holder's signed tree, the rebuilt shard against the one the bot signed: the bot moved no byte of it"
  )
  return {
    id: d.id,
    contract: d.contract ?? '',
    country: COUNTRY,
    code: '4+2',
    holders,
    stored: { files: stored.files, size: stored.size },
    gotBack: same,
    lost,
    repaired: { node: nodeName(s, fresh.node), trade: fresh.id, proved, seconds }
  }
}
