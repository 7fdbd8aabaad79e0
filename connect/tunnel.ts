/**
 * `scit connect` as a library (docs/ARCHITECTURE.md "Service access"): a local TCP listener whose
 * connections are carried to live replicas of a contract's service, found by the contract key alone.
 *
 *   const tunnel = new Tunnel({ contract, market, keyPair, bootstrap })
 *   await tunnel.ready()          // the market followed, the contract verified, the listener up
 *   tunnel.address                // { host, port }
 *
 * Emits 'connection' ({ replica }), 'refused' ({ reason }), 'replicas' (count), 'replica'
 * ({ added, replica }: one joined or left the set), 'stopped' (reason: the contract's bot
 * signed a stop instruction; every local connection is closed, new ones are refused).
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import net from 'net'
import ReadyResource from 'ready-resource'
import Corestore from 'corestore'
import Hyperswarm from 'hyperswarm'
import type DHT from 'hyperdht'
import type { SecretStream } from 'hyperdht'
import type { Bootstrap } from '../lib/config'
import { ScitError, isScitError } from '../lib/errors'
import type { KeyPair } from '../lib/identity'
import { encodeKey } from '../lib/keys'
import { createSwarm } from '../lib/swarm'
import { mayConnect } from '../lib/access'
import type { ManifestWorkload } from '../lib/contract'
import { ContractSession } from '../bot/sign'
import { MarketPeer } from '../market/peer'
import { Replicas, Replica } from './replicas'
import safetyCatch from 'safety-catch'

export interface TunnelOptions {
  contract: Buffer
  /** The market whose signed view says which trades of the contract are live. */
  market: Buffer
  /** The workload, and its port; default: the first workload with ports, its first port. */
  workload?: string | null
  port?: number | null
  /** Who connects: the key the nodes' firewalls check. */
  keyPair: KeyPair
  /** null: the public HyperDHT. */
  bootstrap?: Bootstrap[] | null
  /** A DHT node to use (tests); destroyed with the tunnel. */
  dht?: DHT
  /** Where to listen (default 127.0.0.1, a free port). */
  listen?: { host?: string; port?: number }
  /** How long to wait for the market and the contract together, and for a replica per connection (ms). */
  timeout?: number
  /** How long one replica may take to answer before the next is tried as well (ms). */
  stagger?: number
  /** How often what could not be read of the replicas is tried again (ms). */
  refresh?: number
  /** Told what joining the market still waits for. */
  progress?: (line: string) => void
}

/** A replica as this tunnel tries it. */
interface Target {
  replica: Replica
  failures: number
}

export class Tunnel extends ReadyResource {
  address: { host: string; port: number } = { host: '', port: 0 }
  service: { workload: string; port: number } = { workload: '', port: 0 }
  /** Local connections carried so far, by replica key (z-base-32). */
  readonly carried = new Map<string, number>()
  private swarm: Hyperswarm | null = null
  private store: Corestore | null = null
  private market: MarketPeer | null = null
  private session: ContractSession | null = null
  private replicas: Replicas | null = null
  private server: net.Server | null = null
  private dir = ''
  private readonly targets = new Map<string, Target>()
  private turn = 0
  private readonly sockets = new Set<net.Socket>()
  private readonly streams = new Set<SecretStream>()
  /** Open streams by replica key (hex), closed when it leaves the set. */
  private readonly byReplica = new Map<string, Set<SecretStream>>()
  private readonly timeout: number

  constructor(readonly opts: TunnelOptions) {
    super()
    this.timeout = opts.timeout ?? 30_000
  }

  get replicaCount(): number {
    return this.targets.size
  }

  /** The replicas that may be dialled now. */
  get live(): Replica[] {
    return [...this.targets.values()].map((x) => x.replica)
  }

  /** Its bot signed a stop instruction: nothing of the contract runs any more. */
  get stopped(): boolean {
    return this.replicas?.stopped === true
  }

  /** Why no replica may be dialled now. */
  reasons(): string[] {
    return this.replicas?.reasons() ?? ['the tunnel is not open']
  }

  protected override async _open(): Promise<void> {
    try {
      await this.start()
    } catch (err) {
      await this._close().catch(safetyCatch)
      throw err
    }
  }

  private async start(): Promise<void> {
    const o = this.opts
    const deadline = Date.now() + this.timeout
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-connect-'))
    const store = (this.store = new Corestore(this.dir))
    // A throw-away swarm key: the identity is only for the service streams (a bot may use it in another process).
    const swarm = (this.swarm = o.dht
      ? new Hyperswarm({ dht: o.dht })
      : createSwarm({ bootstrap: o.bootstrap ?? null }))
    this.market = new MarketPeer({
      store,
      swarm,
      identity: null,
      market: o.market,
      follow: true,
      announce: false,
      joinTimeout: this.timeout,
      progress: o.progress
    })
    await this.market.ready()
    // The market peer replicates the store on every connection: the session needs not.
    const session = (this.session = new ContractSession({
      store,
      swarm,
      contract: o.contract,
      timeout: Math.max(1, deadline - Date.now()),
      replicate: false
    }))
    try {
      await session.ready()
    } catch (err) {
      if (isScitError(err, 'TIMEOUT'))
        throw new ScitError(
          'NOT_FOUND',
          `unknown contract ${encodeKey(o.contract)}: no peer served it within ${this.timeout} ms (is the key right? its bot and the nodes that run it serve it)`
        )
      throw err
    }
    this.service = this.pick(session.view.state().manifest.workloads)
    this.checkAccess()
    const replicas = (this.replicas = new Replicas({
      client: this.market.client,
      swarm,
      store,
      contract: { key: o.contract, bot: session.bot, view: session.view },
      service: this.service,
      timeout: this.timeout,
      refresh: o.refresh
    }))
    replicas.on('added', (r: Replica) => {
      this.targets.set(r.hex, { replica: r, failures: 0 })
      this.emit('replica', { added: true, replica: r })
      this.emit('replicas', this.targets.size)
    })
    replicas.on('removed', (r: Replica) => {
      this.targets.delete(r.hex)
      for (const s of this.byReplica.get(r.hex) ?? []) s.destroy()
      this.emit('replica', { added: false, replica: r })
      this.emit('replicas', this.targets.size)
    })
    replicas.on('stopped', (reason: string) => {
      // nothing will serve it again: what is open ends now, nothing waits for a replica
      for (const s of this.sockets) s.destroy()
      for (const s of this.streams) s.destroy()
      this.emit('stopped', reason)
      this.emit('replicas', this.targets.size)
    })
    session.core.on('append', () => {
      session.view
        .refresh()
        .then(() => replicas.update())
        .catch(safetyCatch)
    })
    this.server = net.createServer({ allowHalfOpen: true }, (sock) => this.carry(sock))
    await new Promise<void>((resolve, reject) => {
      const server = this.server as net.Server
      server.once('error', (err) =>
        reject(
          new ScitError(
            'INVALID_ARGUMENT',
            `cannot listen on ${o.listen?.host ?? '127.0.0.1'}:${o.listen?.port ?? 0}: ${err.message}`
          )
        )
      )
      server.listen(o.listen?.port ?? 0, o.listen?.host ?? '127.0.0.1', () => resolve())
    })
    const addr = this.server.address() as net.AddressInfo
    this.address = { host: addr.address, port: addr.port }
    await replicas.ready()
  }

  /** The service to reach: the named workload and port, or the first that has any. */
  private pick(workloads: ManifestWorkload[]): { workload: string; port: number } {
    const name = encodeKey(this.opts.contract).slice(0, 8)
    const services = workloads.filter((w) => w.ports.length > 0)
    if (services.length === 0)
      throw new ScitError(
        'NOT_FOUND',
        `contract ${name}… has no service: none of its workloads (${workloads.map((w) => `${w.name}: ${w.kind}`).join(', ')}) declares ports`
      )
    const w = this.opts.workload ? services.find((x) => x.name === this.opts.workload) : services[0]
    if (!w)
      throw new ScitError(
        'NOT_FOUND',
        `contract ${name}… has no service "${this.opts.workload ?? ''}": its services are ${services.map((x) => `${x.name} (${x.ports.join(', ')})`).join(', ')}`
      )
    const port = this.opts.port ?? w.ports[0]
    if (!w.ports.includes(port))
      throw new ScitError(
        'NOT_FOUND',
        `${w.name} of contract ${name}… does not declare port ${port}: it declares ${w.ports.join(', ')}`
      )
    return { workload: w.name, port }
  }

  /** What the contract says now about this key (the nodes apply the same rule in their firewalls). */
  allowed(): boolean {
    const state = this.session?.view.state()
    return mayConnect(state?.access[this.service.workload], this.opts.keyPair.publicKey)
  }

  private checkAccess(): void {
    if (this.allowed()) return
    throw new ScitError(
      'ACCESS',
      `${encodeKey(this.opts.keyPair.publicKey)} may not connect to ${this.service.workload}:${this.service.port} of contract ${encodeKey(this.opts.contract)}: its bot can allow it (scit bot grant ${encodeKey(this.opts.contract)} ${encodeKey(this.opts.keyPair.publicKey)} --workload ${this.service.workload})`
    )
  }

  /**
   * Resolve once a replica may be dialled; TIMEOUT past `ms`, with why none may (`waited`: what the message says was
   * waited in all, ms); STOPPED for a stopped contract.
   */
  async waitReplica(ms = this.timeout, waited = ms): Promise<number> {
    const deadline = Date.now() + ms
    while (this.targets.size === 0) {
      if (this.closing) throw new ScitError('CLOSED', 'the tunnel is closed')
      if (this.stopped) throw new ScitError('STOPPED', this.reasons()[0])
      if (Date.now() >= deadline)
        throw new ScitError(
          'TIMEOUT',
          `no live replica of ${this.service.workload}:${this.service.port} (contract ${encodeKey(this.opts.contract)}) within ${waited} ms: ${this.reasons().join('; ')}`
        )
      await this.changed(Math.min(250, deadline - Date.now()))
    }
    return this.targets.size
  }

  /** Resolve when the set of replicas changes, or after `ms`. */
  private changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.off('replicas', done)
        resolve()
      }
      const timer = setTimeout(done, Math.max(0, ms))
      this.on('replicas', done)
    })
  }

  /** Replicas to try, in order: those that answered last, taking turns, then the failed ones, fewest failures first. */
  private order(): Target[] {
    const all = [...this.targets.values()]
    const good = all.filter((r) => r.failures === 0)
    const start = good.length > 0 ? this.turn++ % good.length : 0
    return [
      ...good.slice(start),
      ...good.slice(0, start),
      ...all.filter((r) => r.failures > 0).sort((a, b) => a.failures - b.failures)
    ]
  }

  private carry(sock: net.Socket): void {
    if (this.stopped) {
      sock.destroy()
      return
    }
    sock.pause()
    sock.on('error', () => {})
    this.sockets.add(sock)
    sock.once('close', () => this.sockets.delete(sock))
    this.reach(Date.now() + this.timeout, () => sock.destroyed).then(
      (remote) => {
        if (remote === null) {
          sock.destroy()
          return
        }
        if (sock.destroyed) {
          remote.destroy()
          return
        }
        const key = encodeKey(remote.remotePublicKey)
        this.carried.set(key, (this.carried.get(key) ?? 0) + 1)
        this.emit('connection', { replica: key })
        remote.on('close', () => sock.end())
        sock.on('close', () => remote.end())
        sock.pipe(remote).pipe(sock)
      },
      () => sock.destroy()
    )
  }

  /** A stream to some live replica, or null once `deadline` passed (or `gone`). */
  private async reach(deadline: number, gone: () => boolean): Promise<SecretStream | null> {
    let round = 0
    while (!this.closing && !this.stopped && !gone() && Date.now() < deadline) {
      const list = this.order()
      if (list.length > 0) {
        const s = await this.race(list)
        if (s !== null) return s
      }
      if (round === 0)
        this.emit('refused', {
          reason: !this.allowed()
            ? 'the contract no longer allows this key (revoked)'
            : list.length > 0
              ? `none of ${list.length} replica(s) answered`
              : this.reasons().join('; ')
        })
      // Give a heal time to bring its new replica.
      await this.changed(Math.min(2000, 250 * 2 ** round++, deadline - Date.now()))
    }
    return null
  }

  /** Try the replicas in order, starting the next while the earlier ones have not answered within the stagger; first open wins. */
  private race(list: Target[]): Promise<SecretStream | null> {
    const stagger = this.opts.stagger ?? 1500
    const swarm = this.swarm as Hyperswarm
    return new Promise((resolve) => {
      let pending = 0
      let next = 0
      let won = false
      let timer: NodeJS.Timeout | null = null
      const waiting = new Set<Target>()
      const launch = (): void => {
        if (won || next >= list.length) return
        const r = list[next++]
        // It may have left the set since the list was made: never dial a key outside it.
        if (this.targets.get(r.replica.hex) !== r) {
          launch()
          return
        }
        pending++
        waiting.add(r)
        const s = swarm.dht.connect(r.replica.key, { keyPair: this.opts.keyPair })
        this.track(s, r.replica.hex)
        s.on('error', () => {})
        let settled = false
        s.once('open', () => {
          if (settled) return
          settled = true
          waiting.delete(r)
          r.failures = 0
          if (won || this.targets.get(r.replica.hex) !== r) {
            s.destroy()
            pending--
            if (!won && pending === 0 && next >= list.length) resolve(null)
            return
          }
          won = true
          if (timer !== null) clearTimeout(timer)
          // Slower than the stagger: tried after the others until they answer (a crashed node's record lingers on the DHT).
          for (const slow of waiting) slow.failures++
          resolve(s)
        })
        s.once('close', () => {
          if (settled) return
          settled = true
          waiting.delete(r)
          r.failures++
          pending--
          if (!won && next < list.length) {
            if (timer !== null) clearTimeout(timer)
            launch()
            arm()
          } else if (!won && pending === 0) resolve(null)
        })
      }
      const arm = (): void => {
        if (won || next >= list.length) return
        timer = setTimeout(() => {
          launch()
          arm()
        }, stagger)
      }
      launch()
      arm()
      if (pending === 0) resolve(null)
    })
  }

  private track(s: SecretStream, hex: string): void {
    this.streams.add(s)
    let set = this.byReplica.get(hex)
    if (set === undefined) this.byReplica.set(hex, (set = new Set()))
    set.add(s)
    s.once('close', () => {
      this.streams.delete(s)
      set.delete(s)
      if (set.size === 0 && this.byReplica.get(hex) === set) this.byReplica.delete(hex)
    })
  }

  protected override async _close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    for (const s of this.streams) s.destroy()
    if (this.server !== null)
      await new Promise<void>((resolve) => (this.server as net.Server).close(() => resolve()))
    await this.replicas?.close().catch(safetyCatch)
    await this.session?.close().catch(safetyCatch)
    await this.market?.close().catch(safetyCatch)
    await this.swarm?.destroy()
    await this.store?.close()
    if (this.dir !== '') fs.rmSync(this.dir, { recursive: true, force: true })
  }
}
