/**
 * The soak's market, each peer its own process on a loopback DHT testnet that lives in the soak's process (the
 * DHT's bootstrap nodes are the one thing no fault touches): 3 indexers (`scit market serve`), 6 nodes
 * (`scit node start`: 3 in CH, 3 in DE), 2 bots (`scit bot run`, and its commands), and a trader (trader.ts).
 * The market is founded in this process (genesis, two indexers voted in, bots funded), then served by processes.
 */
import fs from 'fs'
import path from 'path'
import { startTestnet, Testnet } from '../../lib/testnet'
import { loadIdentity, importIdentity } from '../../lib/identity'
import { writeConfigFile } from '../../lib/config'
import { encodeKey } from '../../lib/keys'
import { MarketPeer } from '../../market/peer'
import { addIndexer } from '../../market/indexers'
import { exampleStakeholder, EXAMPLE_ROLES } from '../../examples/stakeholders'
import { Proc, ProcSpec } from './procs'
import { NODE_PATH } from './broken'
import type { Cast } from './schedule'

const DIST = path.join(__dirname, '..', '..')
export const CLI = path.join(DIST, 'lib', 'cli.js')
const SKEW = path.join(__dirname, 'skew.js')
const TRADER = path.join(__dirname, 'trader.js')

/** The monitor's settings for every bot run: how soon a silent node is replaced. */
export const GRACE = 20_000
export const INTERVAL = 2000
export const SETTLEMENT_WINDOW = 120_000
export const OFFER_TTL = 120_000
export const FUNDS = 10_000_000

export interface ClusterOptions {
  dir: string
  /** Nodes (half in CH, half in DE) and bots: 6 and 2 by default. */
  nodes?: number
  bots?: number
  /** dist/ of a deliberately broken engine, run by the indexers (broken.ts), or null. */
  brokenDist: string | null
  say: (line: string) => void
}

export class Cluster {
  net!: Testnet
  market!: Buffer
  readonly procs = new Map<string, Proc>()
  readonly cast: Cast
  /** z32 identity of each named peer (node, bot, indexer, stakeholder). */
  readonly keys = new Map<string, string>()
  readonly t0 = Date.now()
  private commands = 0
  private isDown = false

  constructor(readonly opts: ClusterOptions) {
    this.cast = {
      indexers: ['idx0', 'idx1', 'idx2'],
      nodes: Array.from({ length: opts.nodes ?? 6 }, (_, i) => `n${i}`),
      bots: ['botA', 'botB', 'botC', 'botD'].slice(0, opts.bots ?? 2),
      others: ['trader']
    }
  }

  get dir(): string {
    return this.opts.dir
  }

  get bootstrap(): string {
    return this.net.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  }

  get common(): string[] {
    return ['--market', encodeKey(this.market), '--bootstrap', this.bootstrap]
  }

  data(name: string): string {
    return path.join(this.dir, name)
  }

  proc(name: string): Proc {
    const p = this.procs.get(name)
    if (p === undefined) throw new Error(`no process ${name}`)
    return p
  }

  /** The testnet, then the market founded here and handed to its indexer processes, then everyone else. */
  async up(): Promise<void> {
    fs.mkdirSync(path.join(this.dir, 'faults'), { recursive: true })
    this.net = await startTestnet(3)
    await this.found()
    for (const name of this.cast.indexers) this.add(this.indexerSpec(name))
    await Promise.all(this.cast.indexers.map((n) => this.proc(n).start()))
    this.opts.say(`indexers up: ${this.cast.indexers.join(', ')}`)
    for (const name of this.cast.nodes) {
      this.add(this.nodeSpec(name))
      this.keys.set(name, encodeKey(loadIdentity(this.data(name)).publicKey))
    }
    await Promise.all(this.cast.nodes.map((n) => this.proc(n).start()))
    this.opts.say(`nodes up: ${this.cast.nodes.join(', ')}`)
    for (const name of this.cast.bots) this.add(this.botSpec(name))
    this.add({
      name: 'trader',
      argv: [TRADER],
      env: {
        ...this.faultEnv('trader'),
        SCIT_SOAK_TRADER: JSON.stringify({
          data: this.data('trader'),
          market: encodeKey(this.market),
          bootstrap: this.bootstrap
        })
      },
      ready: /^trader ready/
    })
  }

  private add(spec: ProcSpec): Proc {
    const p = new Proc(spec, path.join(this.dir, 'logs'), this.t0)
    p.closed = this.isDown // a command a late step asks for once the soak is over never starts
    this.procs.set(spec.name, p)
    return p
  }

  faultEnv(name: string): Record<string, string> {
    return { SCIT_FAULTS: path.join(this.dir, 'faults', name) }
  }

  private async found(): Promise<void> {
    const boot = this.net.bootstrap
    const [a, b, c] = this.cast.indexers.map((n) => {
      const kp = loadIdentity(this.data(n))
      this.keys.set(n, encodeKey(kp.publicKey))
      return kp
    })
    const founder = new MarketPeer({
      data: this.data('idx0'),
      identity: a,
      bootstrap: boot,
      genesis: { faucets: [a.publicKey], settlementWindow: SETTLEMENT_WINDOW, offerTtl: OFFER_TTL }
    })
    await founder.ready()
    this.market = founder.key
    const peers = [founder]
    try {
      for (const [name, kp] of [
        ['idx1', b],
        ['idx2', c]
      ] as const) {
        const p = new MarketPeer({
          data: this.data(name),
          identity: kp,
          market: this.market,
          bootstrap: boot
        })
        await p.ready()
        peers.push(p)
      }
      await addIndexer([founder], peers[1])
      await addIndexer([founder, peers[1]], peers[2])
      const funded = [...this.cast.bots, 'trader']
      const deposits = funded.map((n) => {
        const kp = loadIdentity(this.data(n))
        this.keys.set(n, encodeKey(kp.publicKey))
        return { type: 'deposit', body: { to: kp.publicKey, amount: FUNDS } }
      })
      const outcomes = await founder.client.submitAndWait(deposits, { timeout: 120_000 })
      if (outcomes.some((o) => !o.accepted)) throw new Error('a deposit was refused')
    } finally {
      for (const p of peers.reverse()) await p.close()
    }
    for (const n of this.cast.indexers)
      writeConfigFile(this.data(n), { market: encodeKey(this.market) })
    for (const role of EXAMPLE_ROLES) {
      const kp = importIdentity(this.data(role), exampleStakeholder(role))
      this.keys.set(role, encodeKey(kp.publicKey))
    }
    this.opts.say(`market ${encodeKey(this.market)} founded, 3 indexers, bots and trader funded`)
  }

  private cli(name: string): string {
    return this.opts.brokenDist !== null && this.cast.indexers.includes(name)
      ? path.join(this.opts.brokenDist, 'lib', 'cli.js')
      : CLI
  }

  private indexerSpec(name: string): ProcSpec {
    return {
      name,
      argv: [this.cli(name), 'market', 'serve', '--data', this.data(name), ...this.common, '-v'],
      env: { ...this.faultEnv(name), ...(this.opts.brokenDist !== null ? { NODE_PATH } : {}) },
      ready: /^serving market/
    }
  }

  /** CH nodes sell ssd and are certified; DE nodes sell ssd and hdd, certified too (banking in EU, archives). */
  place(name: string): { country: string; attributes: string[] } {
    const ch = this.cast.nodes.indexOf(name) < Math.ceil(this.cast.nodes.length / 2)
    return ch
      ? { country: 'CH', attributes: ['ssd', 'certified'] }
      : { country: 'DE', attributes: ['ssd', 'hdd', 'certified'] }
  }

  nodeSpec(name: string, restarts = 0): ProcSpec {
    const i = this.cast.nodes.indexOf(name)
    const { country, attributes } = this.place(name)
    const ch = country === 'CH'
    const data = this.data(name)
    return {
      name,
      argv: [
        '--require',
        SKEW,
        CLI,
        'node',
        'start',
        '--data',
        data,
        ...this.common,
        '--workloads',
        path.join(data, 'workloads'),
        '--country',
        country,
        '--city',
        ch ? 'Zurich' : 'Berlin',
        '--attr',
        attributes.join(','),
        '--cpu',
        '1500m',
        '--memory',
        '3GiB',
        '--ssd',
        '4GiB',
        ...(ch ? [] : ['--hdd', '2GiB']),
        // re-priced on every restart: the node's offer-update moves it in the book
        '--price-cpu',
        String(9 + ((i + restarts) % 3)),
        '--claim-interval',
        '30000',
        '-vv'
      ],
      env: this.faultEnv(name),
      ready: /^ready /
    }
  }

  private botSpec(name: string): ProcSpec {
    return {
      name,
      argv: [
        CLI,
        'bot',
        'run',
        '--data',
        this.data(name),
        ...this.common,
        '--grace',
        `${GRACE / 1000}s`,
        '--interval',
        `${INTERVAL / 1000}s`,
        '-v'
      ],
      env: this.faultEnv(name),
      ready: /^\S+ run /
    }
  }

  /** A one-off `scit ARGS` (a deploy, a signature, a connect), as its own process; faults may land on it too. */
  command(
    label: string,
    args: string[],
    opts: { market?: boolean; env?: Record<string, string> } = {}
  ): Proc {
    const name = `${label}.${++this.commands}`
    const common = opts.market === false ? ['--bootstrap', this.bootstrap] : this.common
    return this.add({ name, argv: [CLI, ...args, ...common], env: opts.env })
  }

  /** Every process, then the testnet. */
  async down(): Promise<void> {
    this.isDown = true
    for (const p of this.procs.values()) p.closed = true
    await Promise.all([...this.procs.values()].map((p) => p.term()))
    for (const p of this.procs.values()) p.close()
    await this.net?.destroy()
  }
}
