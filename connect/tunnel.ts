/**
 * `scit connect` as a library (ARCHITECTURE §9): a local TCP listener whose
 * every connection is carried, end-to-end encrypted, to a live replica of a
 * contract's service, found on the DHT by the contract key alone.
 *
 *   const tunnel = new Tunnel({ contract, keyPair, bootstrap })
 *   await tunnel.ready()          // the contract read and verified, the listener up
 *   tunnel.address                // { host, port }: point any TCP client here
 *
 * The contract core is fetched from its bot and verified (bot/sign.ts
 * ContractSession): it names the service's ports and who may connect
 * (lib/access.ts), so a key the contract refuses is told ACCESS at once
 * instead of waiting on firewalls that answer nothing. Replicas are the keys
 * announced on the service's topic (lib/service.ts), looked up again every
 * few seconds and whenever none answers, so a replica that dies or a heal
 * onto a new node is followed without a restart. Each connection tries the
 * replicas in turn (spreading connections), starting the next one when the
 * current one has not answered within a short stagger.
 *
 * Events: 'connection' ({ replica }) when a local connection reached one,
 * 'refused' ({ reason }) when it reached none, 'replicas' (count) when the set
 * of announced replicas changes.
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import net from 'net'
import ReadyResource from 'ready-resource'
import Corestore from 'corestore'
import Hyperswarm from 'hyperswarm'
import type DHT from 'hyperdht'
import type { SecretStream, Query } from 'hyperdht'
import b4a from 'b4a'
import type { Bootstrap } from '../lib/config'
import { ScitError, isScitError } from '../lib/errors'
import type { KeyPair } from '../lib/identity'
import { encodeKey } from '../lib/keys'
import { createSwarm } from '../lib/swarm'
import { mayConnect } from '../lib/access'
import { serviceTopic } from '../lib/service'
import type { ManifestWorkload } from '../lib/contract'
import { ContractSession } from '../bot/sign'
import safetyCatch from 'safety-catch'

export interface TunnelOptions {
  contract: Buffer
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
  /** How long to wait for the contract, and for a replica per connection (ms). */
  timeout?: number
  /** How long one replica may take to answer before the next is tried as well (ms). */
  stagger?: number
  /** How often replicas are looked up again (ms). */
  refresh?: number
}

interface Replica {
  key: Buffer
  failures: number
  seen: number
}

export class Tunnel extends ReadyResource {
  address: { host: string; port: number } = { host: '', port: 0 }
  service: { workload: string; port: number } = { workload: '', port: 0 }
  /** Local connections carried so far, by replica key (z-base-32). */
  readonly carried = new Map<string, number>()
  private swarm!: Hyperswarm
  private store!: Corestore
  private session: ContractSession | null = null
  private server: net.Server | null = null
  private dir = ''
  private topic = b4a.alloc(32)
  private readonly replicas = new Map<string, Replica>()
  private lookups = 0
  private looking: Promise<void> | null = null
  private query: Query | null = null
  private timer: NodeJS.Timeout | null = null
  private turn = 0
  private readonly sockets = new Set<net.Socket>()
  private readonly streams = new Set<SecretStream>()
  private readonly timeout: number

  constructor(readonly opts: TunnelOptions) {
    super()
    this.timeout = opts.timeout ?? 30_000
  }

  get replicaCount(): number {
    return this.replicas.size
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
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-connect-'))
    this.store = new Corestore(this.dir)
    // A throw-away swarm key: the identity is only for the service streams (a bot may use it in another process).
    this.swarm = o.dht
      ? new Hyperswarm({ dht: o.dht })
      : createSwarm({ bootstrap: o.bootstrap ?? null })
    this.session = new ContractSession({
      store: this.store,
      swarm: this.swarm,
      contract: o.contract,
      timeout: this.timeout
    })
    try {
      await this.session.ready()
    } catch (err) {
      if (isScitError(err, 'TIMEOUT'))
        throw new ScitError(
          'NOT_FOUND',
          `unknown contract ${encodeKey(o.contract)}: no peer served it within ${this.timeout} ms (is the key right, and its bot online?)`
        )
      throw err
    }
    const w = this.pick(this.session.view.state().manifest.workloads)
    this.service = w
    this.checkAccess()
    this.session.core.on('append', () => {
      this.session?.view.refresh().catch(safetyCatch)
    })
    this.topic = serviceTopic(o.contract, w.workload, w.port)
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
    this.lookup()
    this.timer = setInterval(() => this.lookup(), o.refresh ?? 5000)
    this.timer.unref()
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
      `${encodeKey(this.opts.keyPair.publicKey)} may not connect to ${this.service.workload}:${this.service.port} of contract ${encodeKey(this.opts.contract)}: its bot can allow it (scit bot grant CONTRACT ${encodeKey(this.opts.keyPair.publicKey)} --workload ${this.service.workload})`
    )
  }

  /** Resolve once at least one replica is announced; TIMEOUT past `ms`. */
  async waitReplica(ms = this.timeout): Promise<number> {
    const deadline = Date.now() + ms
    while (this.replicas.size === 0) {
      if (Date.now() > deadline)
        throw new ScitError(
          'TIMEOUT',
          `no live replica of ${this.service.workload}:${this.service.port} (contract ${encodeKey(this.opts.contract)}) within ${ms} ms`
        )
      if (this.closing) throw new ScitError('CLOSED', 'the tunnel is closed')
      this.lookup()
      await Promise.race([this.looking, new Promise((resolve) => setTimeout(resolve, 500))])
    }
    return this.replicas.size
  }

  /** Look the replicas up again (one lookup at a time); forget those absent from two lookups in a row that also failed. */
  lookup(): void {
    if (this.looking || this.closing) return
    const n = ++this.lookups
    this.looking = (async () => {
      const before = this.replicas.size
      this.query = this.swarm.dht.lookup(this.topic)
      for await (const reply of this.query) {
        for (const peer of reply.peers) {
          const hex = b4a.toString(peer.publicKey, 'hex')
          const r = this.replicas.get(hex)
          if (r) r.seen = n
          else this.replicas.set(hex, { key: peer.publicKey, failures: 0, seen: n })
        }
      }
      for (const [hex, r] of this.replicas)
        if (r.seen < n - 1 && r.failures > 0) this.replicas.delete(hex)
      if (this.replicas.size !== before) this.emit('replicas', this.replicas.size)
    })()
      .catch(safetyCatch)
      .finally(() => {
        this.looking = null
        this.query = null
      })
  }

  /** Replicas to try, in order: those that answered last, taking turns, then the failed ones, fewest failures first. */
  private order(): Replica[] {
    const all = [...this.replicas.values()]
    const good = all.filter((r) => r.failures === 0)
    const start = good.length > 0 ? this.turn++ % good.length : 0
    return [
      ...good.slice(start),
      ...good.slice(0, start),
      ...all.filter((r) => r.failures > 0).sort((a, b) => a.failures - b.failures)
    ]
  }

  private carry(sock: net.Socket): void {
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
    while (!this.closing && !gone() && Date.now() < deadline) {
      const list = this.order()
      if (list.length > 0) {
        const s = await this.race(list)
        if (s !== null) return s
      }
      // None answered: look again, and give a heal time to announce its new replica.
      this.lookup()
      await Promise.race([
        this.looking,
        new Promise((resolve) => setTimeout(resolve, Math.min(2000, 250 * 2 ** round++)))
      ])
      if (round === 1)
        this.emit('refused', {
          reason: this.allowed()
            ? 'no replica answered'
            : 'the contract no longer allows this key (revoked)'
        })
    }
    return null
  }

  /** Try the replicas in order, starting the next while the earlier ones have not answered within the stagger; first open wins. */
  private race(list: Replica[]): Promise<SecretStream | null> {
    const stagger = this.opts.stagger ?? 1500
    return new Promise((resolve) => {
      let pending = 0
      let next = 0
      let won = false
      let timer: NodeJS.Timeout | null = null
      const waiting = new Set<Replica>()
      const launch = (): void => {
        if (won || next >= list.length) return
        const r = list[next++]
        pending++
        waiting.add(r)
        const s = this.swarm.dht.connect(r.key, { keyPair: this.opts.keyPair })
        this.streams.add(s)
        s.once('close', () => this.streams.delete(s))
        s.on('error', () => {})
        let settled = false
        s.once('open', () => {
          if (settled) return
          settled = true
          waiting.delete(r)
          r.failures = 0
          if (won) {
            s.destroy()
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
    })
  }

  protected override async _close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer)
    for (const s of this.sockets) s.destroy()
    for (const s of this.streams) s.destroy()
    if (this.server !== null)
      await new Promise<void>((resolve) => (this.server as net.Server).close(() => resolve()))
    this.query?.destroy()
    while (this.looking) await this.looking
    await this.session?.close().catch(safetyCatch)
    await this.swarm?.destroy()
    await this.store?.close()
    if (this.dir !== '') fs.rmSync(this.dir, { recursive: true, force: true })
  }
}
