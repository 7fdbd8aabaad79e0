/**
 * Test helpers for archives: a market with nodes selling hdd in CH (they run
 * no process, so no sandbox), a bot that deploys examples/archive.yaml at a
 * small size and code, and files to store.
 */
import fs from 'fs'
import path from 'path'
import type { Assert } from 'brittle'
import b4a from 'b4a'
import sodium from 'sodium-universal'
import type { Testnet } from '../../lib/testnet'
import { ZERO, MiB, GiB, TiB } from '../../lib/resources'
import type { NodeDaemon } from '../../node/daemon'
import type { Bot } from '../../bot/bot'
import type { Offer } from '../../market/types'
import { deploy, waitRunning } from '../../bot/deployment'
import type { DeploymentRecord } from '../../bot/records'
import { ArchiveSession } from '../../bot/archive-session'
import { world, node, bot, World } from './deploy'

export const EXAMPLE = path.join(__dirname, '..', '..', '..', 'examples', 'archive.yaml')

/** A node that sells disk for archives: hdd, in CH, at 1 per GiB-hour. */
export const HOLDER = {
  capacity: { ...ZERO, cpu: 1000, memory: 512 * MiB, hdd: 64 * MiB },
  prices: { ...ZERO, cpu: 10, memory: 1, hdd: 1 },
  attributes: ['hdd'],
  unsafeNoSandbox: true
}

const YEAR = 365 * 86_400_000

/** Offer `i` of a simulated book (the planner's tests and bench): 20-99 TiB of hdd in CH, at 1 or 2. */
export function hddOffer(i: number, over: Partial<Offer> = {}): Offer {
  const resources = { ...ZERO, cpu: 4000, memory: 16 * GiB, hdd: (20 + (i % 80)) * TiB }
  return {
    node: `node${String(i).padStart(5, '0')}`,
    id: `o${i}`,
    resources,
    available: resources,
    prices: { ...ZERO, cpu: 10, memory: 1, hdd: 1 + (i % 2) },
    country: 'CH',
    city: 'Zurich',
    attributes: ['hdd'],
    minLease: 1,
    maxLease: 2 * YEAR,
    time: i,
    renewed: i,
    withdrawn: false,
    ...over
  }
}

export interface ArchiveWorld {
  w: World
  nodes: NodeDaemon[]
  bot: Bot
  d: DeploymentRecord
  session: ArchiveSession
}

/** `count` holders and an archive of `capacity` coded data + parity, deployed and held. */
export async function archiveWorld(
  t: Assert,
  net: Testnet,
  opts: {
    count?: number
    data?: number
    parity?: number
    capacity?: string
    shard?: string
    monitor?: object
    /** Disk each holder sells (default HOLDER's 64 MiB). */
    hdd?: number
    /** Told each step of the setup (a bench's progress). */
    step?: (text: string) => void
  } = {}
): Promise<ArchiveWorld> {
  const w = await world(t, net)
  const nodes: NodeDaemon[] = []
  const holder = {
    ...HOLDER,
    capacity: { ...HOLDER.capacity, hdd: opts.hdd ?? HOLDER.capacity.hdd }
  }
  for (let i = 0; i < (opts.count ?? 6); i++) {
    nodes.push(await node(t, w, holder))
    opts.step?.(`node ${i + 1} of ${opts.count ?? 6} offered`)
  }
  const b = await bot(t, w, {
    monitor: { interval: 200, grace: 2000, challengeInterval: 0, ...opts.monitor }
  })
  if (opts.step !== undefined) {
    const step = opts.step
    b.events.on('progress', (what: string, detail: string) => step(`bot: ${what} ${detail}`))
  }
  const d = await deploy(b, {
    template: EXAMPLE,
    set: {
      capacity: opts.capacity ?? '8MB',
      data: String(opts.data ?? 4),
      parity: String(opts.parity ?? 2),
      shard: opts.shard ?? '256GiB',
      country: 'CH'
    },
    id: 'vault'
  })
  opts.step?.('archive bought, waiting for its holders')
  await waitRunning(b, d)
  return { w, nodes, bot: b, d, session: await ArchiveSession.open(b, 'vault') }
}

/** `size` random bytes with `marker` written at the start (when it fits) and every 64 KiB. */
export function content(size: number, marker = ''): Buffer {
  const b = b4a.alloc(size)
  sodium.randombytes_buf(b)
  const m = b4a.from(marker)
  for (let at = 0; m.byteLength > 0 && at + m.byteLength <= size; at += 64 * 1024) m.copy(b, at)
  return b
}

/** Write `files` (relative path → bytes) under a fresh dir; returns it. */
export async function tree(t: Assert, files: Record<string, Buffer>): Promise<string> {
  const dir = await t.tmp()
  for (const [rel, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true })
    fs.writeFileSync(path.join(dir, rel), data)
  }
  return dir
}
