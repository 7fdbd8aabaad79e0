import test from 'brittle'
import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import { testnet } from './helpers/net'
import { archiveWorld, content } from './helpers/archive'
import { nodeState, stateOn } from './helpers/deploy'
import { put } from '../bot/archive-put'
import { get } from '../bot/archive-get'
import { catalogOf } from '../bot/archive-deploy'
import type { ChallengeEvent } from '../bot/monitor'
import type { Bot } from '../bot/bot'
import { randomBlocks } from './helpers/blocks'
import { settleWithin } from '../lib/timeout'

/** The next challenge event that matches, from now on. */
function challenged(b: Bot, pred: (e: ChallengeEvent) => boolean): Promise<ChallengeEvent> {
  return new Promise((resolve) => {
    const on = (e: ChallengeEvent): void => {
      if (!pred(e)) return
      b.events.off('challenge', on)
      resolve(e)
    }
    b.events.on('challenge', on)
  })
}

/**
 * The bot's next replacement, as its progress line; a try that failed (the monitor tries again
 * 30 s later) does not end the wait. Past `ms`, every heal line seen instead, so a slow machine's
 * failure says where the heal stopped.
 */
async function replaced(b: Bot, ms = 100_000): Promise<string> {
  const seen: string[] = []
  let on = (_step: string, _detail: string): void => {}
  const done = new Promise<string>((resolve) => {
    on = (step, detail) => {
      if (step.startsWith('heal') || step === 'repair') seen.push(`${step}: ${detail}`)
      if (step === 'healed') resolve(`healed: ${detail}`)
    }
    b.events.on('progress', on)
  })
  try {
    return (await settleWithin(done, ms)) ?? `no replacement in ${ms} ms: ${seen.join('; ')}`
  } finally {
    b.events.off('progress', on)
  }
}

test(
  'a holder whose shard is altered fails its next proof and one that dies is given up on: each is replaced by a node that rebuilds the shard from the others and proves it; the file still comes back',
  { timeout: 240_000 },
  async (t) => {
    const net = await testnet(t)
    const a = await archiveWorld(t, net, { count: 8, monitor: { challengeInterval: 300 } })
    const data = content(1024 * 1024 + 5)
    const file = path.join(await t.tmp(), 'data.bin')
    fs.writeFileSync(file, data)
    await put(a.session, [file])
    const writer = await a.bot.writer(a.d)
    const byKey = (key: string) => a.nodes.find((n) => n.key === key)
    a.bot.monitor.start()

    // 1. a holder alters its shard on disk (a bad disk, or a farmer cheating): its tree no longer the signed one
    const victim = a.d.trades.find((x) => x.phase === 'settled') as (typeof a.d.trades)[number]
    const place = catalogOf(writer)?.placeOf(victim.id)
    const proofs = catalogOf(writer)?.proofs(writer.key, place ?? { group: 0, shard: 0 }) ?? []
    const node = byKey(victim.node)
    if (!node || place === undefined || place === null || proofs.length !== 1)
      return t.fail('no holder to corrupt')
    const shard = node.store.get({ name: `scit/archive/${b4a.toString(proofs[0].id, 'hex')}` })
    await shard.ready()
    const sizes: number[] = []
    for (let i = 0; i < shard.length; i++) sizes.push(((await shard.get(i)) as Buffer).byteLength)
    const failedProof = challenged(a.bot, (e) => e.trade === victim.id && !e.ok)
    const first = replaced(a.bot)
    await shard.truncate(0)
    await shard.append(sizes.map((n) => randomBlocks(1, n)[0]))
    await shard.close()
    const fail = await failedProof
    t.ok(/does not hash|roots|not held/.test(fail.reason), `its next proof fails: ${fail.reason}`)
    const heal1 = await first
    t.ok(heal1.startsWith('healed'), `the bot replaces it: ${heal1}`)
    const r1 = a.d.trades.find((x) => x.replaces === victim.id)
    if (!r1) return t.fail('no replacement')
    t.ok(
      !catalogOf(writer)?.holders[place.group].includes(victim.id),
      'the catalog names the new holder instead'
    )
    const n1 = byKey(r1.node)
    if (!n1) return t.fail('the replacement is on no known node')
    await nodeState(n1, r1.id, (s) => s === 'running')
    const p1 = await challenged(a.bot, (e) => e.trade === r1.id)
    t.ok(p1.ok, `the new holder rebuilt the shard and proves it: ${p1.reason}`)

    // 2. a holder dies
    const dead = a.d.trades.find(
      (x) => x.phase === 'settled' && x.id !== r1.id
    ) as (typeof a.d.trades)[number]
    const second = replaced(a.bot)
    await byKey(dead.node)?.close()
    const heal2 = await second
    t.ok(heal2.startsWith('healed'), `past the grace the bot replaces the dead holder: ${heal2}`)
    const r2 = a.d.trades.find((x) => x.replaces === dead.id)
    const n2 = r2 === undefined ? undefined : byKey(r2.node)
    if (!r2 || !n2) return t.fail('no replacement for the dead holder')
    await nodeState(n2, r2.id, (s) => s === 'running')
    t.is(stateOn(n2, r2.id), 'running', 'its replacement holds everything')
    const p2 = await challenged(a.bot, (e) => e.trade === r2.id)
    t.ok(p2.ok, `and proves it: ${p2.reason}`)

    const out = path.join(await t.tmp(), 'back.bin')
    await get(a.session, 'data.bin', { out })
    t.ok(b4a.equals(fs.readFileSync(out), data), 'the file comes back byte for byte')
  }
)
