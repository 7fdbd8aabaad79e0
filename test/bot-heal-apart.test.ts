/**
 * Two heals of one deployment at once are finished apart: a replacement that filled and was reached is named and
 * settled at once, whatever the other heal's bid is doing (the soak, seed 2700 on 345be28: an archive's replacement,
 * filled on a node the bot reached, waited 130 s for another shard's bid to give up in a region with no room, and the
 * archive stayed short of both replicas).
 */
import fs from 'fs'
import path from 'path'
import { FAST_MONITOR, SERVER, bot, node, sized, world } from './helpers/deploy'
import { testnet } from './helpers/net'
import { deploy, waitRunning } from '../bot/deployment'
import { sandboxTest } from './helpers/sandbox'
import type { Assert } from 'brittle'
import { MiB, ZERO } from '../lib/resources'

/** Two one-replica services of one contract: app, and db, which needs 3 GiB of memory. */
async function appAndDb(t: Assert): Promise<string> {
  const dir = await t.tmp()
  fs.writeFileSync(path.join(dir, 'server.js'), SERVER)
  const service = (name: string, memory: string): string[] => [
    `  - name: ${name}`,
    '    kind: service',
    '    files: [server.js]',
    '    command: [node, server.js]',
    `    resources: { cpu: 500m, memory: ${memory} }`
  ]
  const file = path.join(dir, 'two.yaml')
  fs.writeFileSync(
    file,
    [
      'name: two',
      'version: 1',
      'workloads:',
      ...service('app', '256MiB'),
      ...service('db', '3GiB'),
      'placement: { countries: [CH], attributes: [ssd] }',
      'duration: 1h',
      'budget: 100'
    ].join('\n') + '\n'
  )
  return file
}

sandboxTest(
  'a heal whose replacement filled settles it while another heal of the same deployment finds no room',
  // db's heal gives up after its 2 bids (and a reach check), ~26 s in: brittle's default 30 s leaves no room for teardown
  { timeout: 90_000 },
  async (t) => {
    const w = await world(t, await testnet(t))
    const x = await node(t, w, sized(500, 8)) // room for app
    const big = sized(500, 20)
    const y = await node(t, w, {
      ...big,
      capacity: { ...ZERO, cpu: 500, memory: 4096 * MiB, ssd: 1024 * MiB }
    }) // the one for db
    const b = await bot(t, w, {
      monitor: FAST_MONITOR,
      trader: { bidWindow: 10_000, attempts: 2, backoff: 100 }
    })
    const d = await deploy(b, { template: await appAndDb(t), id: 'two' })
    await waitRunning(b, d)
    const db = d.trades.find((r) => r.workload === 'db')
    t.is(db?.node, y.key, 'db on the one node with the memory')

    // y goes: db's heal bids and finds no room (no other node has the memory)
    const resting = new Promise<void>((resolve) => {
      const on = (step: string, detail: string): void => {
        if (step !== 'bid' || !detail.includes('db')) return
        b.events.off('progress', on)
        resolve()
      }
      b.events.on('progress', on)
    })
    await y.close()
    b.monitor.start()
    await resting
    // then app's node goes, and a node with room for app comes
    const z = await node(t, w, sized(500, 12))
    const ends: string[] = []
    const two = new Promise<void>((resolve) => {
      const on = (step: string, detail: string): void => {
        if (step !== 'healed' && step !== 'heal-failed') return
        ends.push(`${step}: ${detail}`)
        if (ends.length < 2) return
        b.events.off('progress', on)
        resolve()
      }
      b.events.on('progress', on)
    })
    await x.close()
    await two
    t.ok(
      ends[0].startsWith('healed: two: app now also runs on'),
      `app's heal ends first: ${ends[0]}`
    )
    t.ok(ends[0].includes(z.key.slice(0, 8)), 'on z')
    t.ok(
      ends[1].startsWith('heal-failed') && ends[1].includes('no offer filled db'),
      `db's heal, begun before it, was still bidding and ends after it: ${ends[1]}`
    )
    const settled = d.trades.filter((r) => r.replaces !== null && r.phase === 'settled')
    t.alike(
      settled.map((r) => r.node),
      [z.key],
      'one replacement settled, on z'
    )
    const rows = await waitRunning(b, d)
    t.is(rows.find((r) => r.trade === settled[0]?.id)?.state, 'running', 'and it runs there')
  }
)
