/**
 * The demo's world, all in this process: a local HyperDHT testnet on
 * 127.0.0.1, a market with three indexers, node daemons, one user's bot, and
 * the stakeholders' signing sessions. Everything lives under one temp dir;
 * `close()` closes what was opened in reverse order and removes that dir,
 * whatever failed before.
 *
 *   const w = await DemoWorld.create({ sandbox: true })
 *   await w.startTestnet(); await w.startMarket(3)
 *   const n = await w.startNode(FLEET[0]); const bot = await w.startBot(1_000_000)
 *   await w.close()
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import Corestore from 'corestore'
import type DHT from 'hyperdht'
import Hyperswarm from 'hyperswarm'
import { startTestnet, Testnet } from '../../lib/testnet'
import { createDHT } from '../../lib/swarm'
import { generateKeyPair, KeyPair } from '../../lib/identity'
import { ScitError } from '../../lib/errors'
import { decodeKey } from '../../lib/keys'
import { MarketPeer, GenesisOptions } from '../../market/peer'
import { Client } from '../../market/client'
import { addIndexer } from '../../market/indexers'
import { raceTimeout, TIMED_OUT } from '../../lib/timeout'
import { NodeDaemon } from '../../node/daemon'
import { Bot } from '../../bot/bot'
import type { MonitorOptions } from '../../bot/monitor'
import { ContractSession } from '../../bot/sign'
import type { ResultMessage } from '../../bot/approvals'
import { Tunnel } from '../../connect/tunnel'
import { NodeSpec, capacityOf, pricesOf } from './fleet'
import safetyCatch from 'safety-catch'

const CLOSE_TIMEOUT = 15_000

export interface WorldOptions {
  /** false: the nodes run workloads without bubblewrap (a machine without it; everything here is local). */
  sandbox: boolean
  /** How often indexers ack (ms): finality takes a couple of ack rounds. */
  ackInterval?: number
  /** The bot's monitor: ping interval and the grace before a silent node is replaced. */
  monitor?: Partial<MonitorOptions>
  /** How often nodes claim their pay (ms; 0: never). */
  claimInterval?: number
}

export interface DemoNode {
  spec: NodeSpec
  daemon: NodeDaemon
  stopped: boolean
}

export class DemoWorld {
  net: Testnet | null = null
  /** The founder first: it created the market, is its faucet, and voted the others in. */
  readonly indexers: MarketPeer[] = []
  readonly nodes = new Map<string, DemoNode>()
  bot: Bot | null = null
  /** `scit connect` tunnels by contract key: one per contract, kept across heals (it follows the replicas). */
  private readonly tunnels = new Map<string, Tunnel>()
  private readonly closers: Array<{ what: string; fn: () => Promise<void> }> = []
  private closing: Promise<string[]> | null = null

  private constructor(
    readonly root: string,
    readonly opts: WorldOptions
  ) {}

  static create(opts: WorldOptions): DemoWorld {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-demo-'))
    // Work dirs live below: the sandbox's unprivileged uid must traverse (never list) every level.
    fs.chmodSync(root, 0o711)
    return new DemoWorld(root, opts)
  }

  get founder(): MarketPeer {
    if (this.indexers.length === 0) throw new ScitError('CLOSED', 'the market is not up')
    return this.indexers[0]
  }

  get testnet(): Testnet {
    if (this.net === null) throw new ScitError('CLOSED', 'the testnet is not up')
    return this.net
  }

  /** `127.0.0.1:port,…`: what --bootstrap takes. */
  get bootstrap(): string {
    return this.testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  }

  private onClose(what: string, fn: () => Promise<void>): void {
    this.closers.push({ what, fn })
  }

  async startTestnet(size = 3): Promise<Testnet> {
    const net = await startTestnet(size)
    this.net = net
    this.onClose('testnet', () => net.destroy())
    return net
  }

  private async peer(
    name: string,
    identity: KeyPair,
    extra: { market?: Buffer; genesis?: GenesisOptions }
  ): Promise<MarketPeer> {
    const p = new MarketPeer({
      data: this.dir('market', name),
      identity,
      dht: this.dhtNode(),
      ackInterval: this.opts.ackInterval,
      ...extra
    })
    // A peer that fails while the demo runs is reported by the step that waits on it; never crash the process.
    p.on('error', () => {})
    this.onClose(`indexer ${name}`, () => p.close())
    await p.ready()
    return p
  }

  /** A market founded by the first peer (its faucet), then `count - 1` more indexers voted in by a majority. */
  async startMarket(count = 3, onIndexer?: (n: number) => void): Promise<MarketPeer[]> {
    const founderKey = generateKeyPair()
    // A short offer TTL: the node the demo kills stops being sold within a minute (--keep). Not shorter: ten
    // nodes renew three times per TTL, and at 20 s those renewals slowed the in-process indexers' finality
    // past the demo's 30 s waits on a loaded machine.
    const founder = await this.peer('founder', founderKey, {
      genesis: { faucets: [founderKey.publicKey], settlementWindow: 10 * 60_000, offerTtl: 60_000 }
    })
    this.indexers.push(founder)
    onIndexer?.(1)
    for (let i = 1; i < count; i++) {
      const p = await this.peer(`indexer-${i + 1}`, generateKeyPair(), { market: founder.key })
      await addIndexer([...this.indexers], p)
      this.indexers.push(p)
      onIndexer?.(i + 1)
    }
    return this.indexers
  }

  /** A signing client for another identity over the founder's peer: an expert publishing, with no peer of its own. */
  async client(identity: KeyPair): Promise<Client> {
    const c = new Client(this.founder.ledger, { identity })
    this.onClose('client', () => c.close())
    await c.ready()
    return c
  }

  async startNode(spec: NodeSpec): Promise<NodeDaemon> {
    const daemon = new NodeDaemon({
      data: this.dir('nodes', spec.name),
      market: this.founder.key,
      dht: this.dhtNode(),
      capacity: capacityOf(spec),
      prices: pricesOf(spec),
      country: spec.country,
      city: spec.city,
      attributes: spec.attributes,
      minLease: 1,
      workloads: this.dir('workloads', spec.name),
      unsafeNoSandbox: !this.opts.sandbox,
      supervisor: { backoff: { initial: 100, max: 2000, stable: 30_000 }, stopGrace: 2000 },
      claimInterval: this.opts.claimInterval ?? 0
    })
    const entry: DemoNode = { spec, daemon, stopped: false }
    this.nodes.set(spec.name, entry)
    this.onClose(`node ${spec.name}`, () => daemon.close())
    await daemon.ready()
    return daemon
  }

  node(name: string): DemoNode {
    const n = this.nodes.get(name)
    if (!n) throw new ScitError('NOT_FOUND', `no demo node ${name}`)
    return n
  }

  /** The demo node with this key, or null. */
  byKey(key: string): DemoNode | null {
    for (const n of this.nodes.values()) if (n.daemon.key === key) return n
    return null
  }

  /** Stop a node the way a machine dies: its swarm goes, its workloads stop, nobody tells the market. */
  async stopNode(name: string): Promise<void> {
    const n = this.node(name)
    n.stopped = true
    await n.daemon.close()
  }

  async startBot(
    fund: number,
    monitor: Partial<MonitorOptions> = this.opts.monitor ?? {}
  ): Promise<Bot> {
    const bot = new Bot({
      data: this.dir('bot'),
      market: this.founder.key,
      dht: this.dhtNode(),
      trader: { bidWindow: 30_000, attempts: 2, backoff: 200 },
      monitor: { challengeInterval: 0, renewBefore: 0, ...monitor }
    })
    this.bot = bot
    this.onClose('bot', () => bot.close())
    await bot.ready()
    await this.fund(bot.identity.publicKey, fund)
    return bot
  }

  /** The faucet (the founder) mints `amount` to `to`. */
  async fund(to: Buffer, amount: number): Promise<void> {
    const [o] = await this.founder.client.submitAndWait(
      [{ type: 'deposit', body: { to, amount } }],
      { final: false }
    )
    if (!o.accepted)
      throw new ScitError(
        'REJECTED',
        `the faucet's deposit was refused: ${o.reason ?? ''} ${o.message ?? ''}`
      )
  }

  /**
   * A stakeholder signs the manifest in force of `contract`, as `scit bot sign`
   * does: meet the bot on the contract's topic, replicate and verify the core,
   * sign its manifest hash, hand the signature to the bot.
   */
  async sign(contract: string, identity: KeyPair, role: string): Promise<ResultMessage> {
    const store = new Corestore(this.dir('stakeholders', `${role}-${Date.now()}`))
    const swarm = new Hyperswarm({ keyPair: identity, dht: this.dhtNode() })
    const session = new ContractSession({
      store,
      swarm,
      contract: decodeKey(contract),
      timeout: 20_000
    })
    try {
      await session.ready()
      const { result } = await session.sign(identity, role)
      if (!result.accepted)
        throw new ScitError(
          'REJECTED',
          `the bot refused ${role}'s signature: ${result.reason ?? ''}`
        )
      return result
    } finally {
      await session.close().catch(safetyCatch)
      await swarm.destroy().catch(safetyCatch)
      await store.close().catch(safetyCatch)
    }
  }

  /**
   * A local port that reaches a contract's service only through the DHT, as
   * `scit connect` gives one (connect/tunnel.ts), connecting as `keyPair`
   * (the contract must allow it). One per contract; closed with the world.
   */
  async tunnel(contract: string, keyPair: KeyPair, workload?: string): Promise<Tunnel> {
    const have = this.tunnels.get(contract)
    if (have !== undefined) return have
    const t = new Tunnel({
      contract: decodeKey(contract, 'contract key'),
      market: this.founder.key,
      workload: workload ?? null,
      keyPair,
      dht: this.dhtNode(),
      timeout: 20_000,
      refresh: 1000
    })
    this.tunnels.set(contract, t)
    this.onClose(`tunnel to ${contract.slice(0, 8)}`, () => t.close())
    await t.ready()
    return t
  }

  /** A DHT node for the explorer's presence lookups; destroyed at close. */
  dht(): DHT {
    const node = this.dhtNode()
    this.onClose('explorer DHT node', () => node.destroy())
    return node
  }

  /**
   * A DHT node on the testnet, bound to 127.0.0.1 and reachable (lib/swarm
   * createDHT), as the CLI's are: so that `scit market …` in another process
   * connects to the demo's peers at once. The swarm it is given to destroys it.
   */
  private dhtNode(): DHT {
    const node = createDHT(this.testnet.bootstrap)
    if (node === null) throw new ScitError('INVALID_ARGUMENT', 'the testnet is not on loopback')
    return node
  }

  /** A directory under the demo's root, created traversable (0711). */
  dir(...parts: string[]): string {
    let d = this.root
    for (const p of parts) {
      d = path.join(d, p)
      fs.mkdirSync(d, { recursive: true, mode: 0o711 })
      fs.chmodSync(d, 0o711) // whatever the umask: scit's is 077 (lib/datadir)
    }
    return d
  }

  /** Close everything in reverse order, then remove the root. Resolves with what failed to close (not thrown: cleanup goes on). */
  close(): Promise<string[]> {
    if (this.closing === null) this.closing = this.closeAll()
    return this.closing
  }

  private async closeAll(): Promise<string[]> {
    const failed: string[] = []
    for (const { what, fn } of this.closers.reverse()) {
      // A part that cannot close must not keep the rest (and the user's terminal) waiting.
      try {
        if ((await raceTimeout(fn(), CLOSE_TIMEOUT)) === TIMED_OUT)
          failed.push(`${what}: did not close within ${CLOSE_TIMEOUT / 1000}s`)
      } catch (err) {
        failed.push(`${what}: ${(err as Error).message}`)
      }
    }
    fs.rmSync(this.root, { recursive: true, force: true, maxRetries: 3 })
    return failed
  }
}
