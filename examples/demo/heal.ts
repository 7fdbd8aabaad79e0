/**
 * The self-healing story (docs/ARCHITECTURE.md "Self-healing"): the node that runs the CRM stops,
 * as a machine that dies would. The bot, pinging its nodes, gives up on it
 * after the grace period, fails its lease (the market refunds the unused
 * escrow), buys a replacement elsewhere in CH, signs a scale instruction
 * naming the new trade and the snapshot of the CRM's data it starts from
 * (its state core, which the bot copied and verified as zurich wrote it),
 * and the CRM runs again with its contacts, with no person involved.
 */
import { ScitError } from '../../lib/errors'
import { encodeKey } from '../../lib/keys'
import { waitRunning } from '../../bot/deployment'
import { whenUp } from './http'
import { Stage, nodeName, reached, within } from './stage'
import safetyCatch from 'safety-catch'

export interface HealResult {
  stopped: string
  failedTrade: string
  refunded: number
  replacement: { trade: string; node: string }
  running: boolean
  contactsAfter: number
  /** The snapshot the new node restored: its sequence and the node that signed it. */
  restored: { seq: number; node: string; trade: string }
  seconds: number
}

/** `before`: the contacts the CRM served before its node died; the healed one must serve them. */
export async function heal(s: Stage, crmId: string, before: number): Promise<HealResult> {
  const { bot, r, world } = s
  const d = bot.state.find(crmId)
  const lost = d.trades.find((t) => t.phase === 'settled')
  if (!lost) throw new ScitError('DEMO', 'the CRM has no live lease to lose')
  const victim = nodeName(s, lost.node)
  const { interval, grace } = bot.monitor.opts

  const mine = (detail: string): boolean => detail.startsWith(`${d.id}:`)
  const giving = reached(bot, 'heal', mine)
  const failing = reached(bot, 'fail', (detail) => detail.includes(lost.id))
  const healing = reached(bot, 'healed', mine)
  const healFailed = reached(bot, 'heal-failed', mine).then((detail) => {
    throw new ScitError('DEMO', `the bot could not heal the CRM: ${detail}`)
  })
  healFailed.catch(safetyCatch)
  bot.monitor.start()
  r.wait(`stopping node ${victim}`)
  const t0 = Date.now()
  await world.stopNode(victim)
  r.ok(
    `node ${victim} stopped, as if its machine died, and the CRM with it; nobody tells the market`
  )

  r.wait(
    `the bot pings ${victim} every ${interval / 1000}s and gives up after ${grace / 1000}s of silence`
  )
  const why = await within(s, 'noticing the dead node', Promise.race([giving, healFailed]))
  const silent = /unreachable for (\d+) ms/.exec(why)?.[1]
  r.ok(
    `the bot gave up on ${victim}: no answer to its pings for ${silent === undefined ? grace / 1000 : (Number(silent) / 1000).toFixed(1)}s`,
    `its grace period here is ${grace / 1000}s (scit bot run --grace, 60s by default)`
  )
  r.wait(`the bot fails ${victim}'s lease`)
  await within(s, 'failing the lease', Promise.race([failing, healFailed]))
  const failed = await bot.client.trade(lost.id)
  if (failed?.state !== 'failed')
    throw new ScitError('DEMO', `the lost lease is ${failed?.state ?? 'gone'}, not failed`)
  r.ok(
    `it failed ${victim}'s lease: the market refunded ${failed.refunded} of unused escrow`,
    'the node is paid for the time it ran; the rest goes back to the bot'
  )
  r.wait('the bot buys a replacement in CH')
  await within(s, 'healing the CRM', Promise.race([healing, healFailed]))
  const replacement = d.trades.find((t) => t.replaces === lost.id)
  if (!replacement)
    throw new ScitError('DEMO', 'the bot reported the CRM healed, but holds no replacement lease')
  const target = nodeName(s, replacement.node)
  const ref = (await bot.writer(d)).view.instructions
    .flatMap((i) => i.restore)
    .find((x) => x.trade === replacement.id)
  if (ref === undefined)
    throw new ScitError(
      'DEMO',
      `the scale instruction names no snapshot of ${victim}'s data for ${target} to restore`
    )
  const signer = s.world.byKey(encodeKey(ref.node))
  r.ok(
    `it bought a replacement on ${target} and signed a scale instruction naming the new trade and snapshot ${ref.seq} of the CRM's data`,
    'same contract core, same manifest hash: the new node verifies the same signatures, files and snapshot'
  )

  r.wait(`${target} verifies the contract and starts the CRM`)
  const rows = await waitRunning(bot, d, { deadline: Date.now() + s.patience })
  const row = rows.find((x) => x.trade === replacement.id)
  if (row?.state !== 'running')
    throw new ScitError(
      'DEMO',
      `the CRM is not running on ${target}: ${row?.state ?? '?'} (${row?.reason ?? ''})`
    )
  // The same tunnel as before the heal: it finds the new replica on the contract's topic by itself.
  const tunnel = await s.world.tunnel(d.contract ?? '', s.bot.identity)
  const health = await whenUp<{ ok: boolean; contacts: number }>(
    'GET',
    `http://127.0.0.1:${tunnel.address.port}/health`
  )
  const seconds = (Date.now() - t0) / 1000
  const n = health.body.contacts
  if (n < before)
    throw new ScitError(
      'DEMO',
      `the CRM on ${target} serves ${n} contacts, ${victim}'s served ${before}`
    )
  const by = signer === null ? encodeKey(ref.node).slice(0, 8) : nodeName(s, signer.daemon.key)
  r.ok(
    `the CRM runs again on ${target} with its ${n} contact${n === 1 ? '' : 's'}, restored from snapshot ${ref.seq} signed by ${by}, ${seconds.toFixed(1)}s after ${victim} died`,
    `${target} checked ${by}'s signature and every file hash before it started the CRM; reached through the same tunnel (same address, no restart); a crash loses what was written after the last snapshot (at most one interval, 10s here)`
  )
  return {
    stopped: victim,
    failedTrade: lost.id,
    refunded: failed.refunded,
    replacement: { trade: replacement.id, node: target },
    running: true,
    contactsAfter: n,
    restored: { seq: ref.seq, node: by, trade: ref.from },
    seconds
  }
}
