/** The archive story (examples/archive.yaml, scaled down): two copies in one country, challenged on random blocks. */
import path from 'path'
import { ScitError } from '../../lib/errors'
import { formatSize } from '../../lib/resources'
import { deploy, waitRunning } from '../../bot/deployment'
import { Stage, EXAMPLES, nodeName, within, live } from './stage'

export interface ArchiveResult {
  id: string
  contract: string
  country: string
  copies: Array<{ trade: string; node: string; challenged: boolean }>
  bytes: number
}

const CAPACITY = '10MB'
const COUNTRY = 'DE'

export async function archive(s: Stage): Promise<ArchiveResult> {
  const { bot, r } = s
  r.wait(`the bot bids for ${CAPACITY} × 2 copies in ${COUNTRY}, on hdd, on distinct nodes`)
  const d = await within(
    s,
    'deploying the archive',
    deploy(bot, {
      template: path.join(EXAMPLES, 'archive.yaml'),
      set: { capacity: CAPACITY, country: COUNTRY, copies: 2 },
      id: 'archive'
    })
  )
  const leases = live(d)
  const names = leases.map((t) => nodeName(s, t.node))
  r.ok(
    `bought 2 copies of ${CAPACITY} in ${COUNTRY}, on ${names.join(' and ')}; contract ${(d.contract ?? '').slice(0, 8)}…`,
    'placement: that country, the hdd attribute, and spread (never two copies on one node)'
  )

  r.wait(`${names.join(' and ')} replicate the archive`)
  await waitRunning(bot, d, { deadline: Date.now() + s.patience })
  const bytes = (await bot.writer(d)).core.byteLength
  r.ok(
    `both nodes hold every block of the archive (${formatSize(bytes)} seeded from examples/archive/, under the ${CAPACITY} leased)`,
    'an archive runs no process: "running" means every block is on the node, verified against the core\'s Merkle tree'
  )

  const copies: ArchiveResult['copies'] = []
  for (const t of leases) {
    r.wait(`challenging ${nodeName(s, t.node)} on random blocks`)
    const ok = await within(
      s,
      'a storage challenge',
      bot.monitor.challenge(d, t).catch(() => false)
    )
    if (!ok)
      throw new ScitError('VERIFICATION', `${nodeName(s, t.node)} failed its storage challenge`)
    copies.push({ trade: t.id, node: nodeName(s, t.node), challenged: ok })
  }
  r.ok(
    `${names.join(' and ')} answered a storage challenge: random blocks a fresh nonce picked, each with its Merkle proof`,
    "checked against the core's signed tree head, not a copy of the data: only a node that keeps the bytes passes; one that fails is replaced"
  )
  return { id: d.id, contract: d.contract ?? '', country: COUNTRY, copies, bytes }
}
