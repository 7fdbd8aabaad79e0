/**
 * A HyperDHT server per declared port of a running service (docs/ARCHITECTURE.md "Service access"):
 * its firewall refuses keys the contract does not allow before the handshake ends; an admitted
 * stream goes to the service's endpoint (node/local-stream.ts). Emits 'connection' ({ id, port, remote }).
 */
import { EventEmitter } from 'events'
import fs from 'fs'
import path from 'path'
import type DHT from 'hyperdht'
import type { Server, SecretStream } from 'hyperdht'
import type { KeyPair } from '../lib/identity'
import { encodeKey } from '../lib/keys'
import { logger } from '../lib/log'
import { raceTimeout } from '../lib/timeout'
import { UNANNOUNCE_WITHIN } from '../lib/swarm'
import { serviceKeyPair } from '../lib/service'
import { mayConnect } from '../lib/access'
import type { Endpoint } from './workload'
import { LocalStream } from './local-stream'
import type { Supervisor } from './supervisor'
import type { Lease } from './lease'

const log = logger('node/services')
/** How long an admitted stream waits for a starting service to listen (ms). */
const LOCAL_PATIENCE = 10_000

export interface Exposure {
  id: string
  ports: number[]
  /** Asked on every handshake: may this key connect now? */
  allows: (key: Buffer) => boolean
  /** Where the service's port is right now (null: not running). */
  endpoint: (port: number) => Endpoint | null
}

interface Served {
  exposure: Exposure
  servers: Array<{ port: number; server: Server; keyPair: KeyPair }>
}

export class Services extends EventEmitter {
  private readonly served = new Map<string, Served>()
  /** Per workload, the last hide still under way: a server under the same key must be closed before the next listens. */
  private readonly hiding = new Map<string, Promise<void>>()
  private closed = false
  /** Short links to bridge socket dirs: a UNIX socket path is at most 107 bytes, a work dir's can be longer. */
  private readonly links = new Map<string, string>()

  /** `links`: a dir of the node's own for short links to bridge sockets; emptied here. */
  constructor(
    private readonly dht: DHT,
    private readonly node: KeyPair,
    private readonly linkDir: string
  ) {
    super()
    fs.rmSync(linkDir, { recursive: true, force: true })
  }

  keyPair(id: string, port: number): KeyPair {
    return serviceKeyPair(this.node, id, port)
  }

  has(id: string): boolean {
    return this.served.has(id)
  }

  /** Serve every port of `e` on the DHT; a workload already served is left as it is. */
  async expose(e: Exposure): Promise<void> {
    if (this.closed || this.served.has(e.id) || e.ports.length === 0) return
    const entry: Served = { exposure: e, servers: [] }
    this.served.set(e.id, entry)
    await this.hiding.get(e.id)
    for (const port of e.ports) {
      if (this.served.get(e.id) !== entry) return
      const keyPair = this.keyPair(e.id, port)
      const server = this.dht.createServer({ firewall: (remote) => !e.allows(remote) }, (conn) =>
        this.carry(e, port, conn)
      )
      entry.servers.push({ port, server, keyPair })
      await server.listen(keyPair)
    }
    if (this.served.get(e.id) !== entry) return
    log.info('service on the DHT', {
      id: e.id,
      ports: e.ports,
      keys: entry.servers.map((s) => encodeKey(s.keyPair.publicKey).slice(0, 8))
    })
  }

  /** After a transition of workload `id`: serve its ports while it is meant to run (its lease verified), stop once it is not. */
  sync(id: string, lease: Lease | undefined, supervisor: Supervisor): void {
    const info = supervisor.get(id)
    if (!lease || !info || info.spec.ports.length === 0 || lease.workload === null) return
    if (!supervisor.active(id)) {
      this.hide(id).catch((err) =>
        log.warn('hiding a service failed', { id, err: (err as Error).message })
      )
      return
    }
    if (this.served.has(id)) return
    this.expose({
      id,
      ports: info.spec.ports,
      allows: (key) => mayConnect(lease.access, key),
      endpoint: (port) => {
        const now = supervisor.get(id)
        return now?.state === 'running'
          ? (now.endpoints.find((e) => e.port === port) ?? null)
          : null
      }
    }).catch((err) =>
      log.warn('serving a service on the DHT failed', { id, err: (err as Error).message })
    )
  }

  async hide(id: string): Promise<void> {
    const entry = this.served.get(id)
    if (!entry) return
    this.served.delete(id)
    const before = this.hiding.get(id)
    const done = (async () => {
      await before
      // Best effort, never a throw: a DHT node that is already gone (destroyed, crashed) closes nothing.
      await Promise.all(
        entry.servers.map(async (s) => {
          try {
            await s.server.close()
          } catch (err) {
            log.debug('closing a service server failed', { id, err: (err as Error).message })
          }
        })
      )
    })()
    this.hiding.set(id, done)
    await done
    if (this.hiding.get(id) === done) this.hiding.delete(id)
  }

  /** Each server unannounces for `UNANNOUNCE_WITHIN` at most: past it, the swarm's destroy ends what waits on the DHT. */
  async close(): Promise<void> {
    this.closed = true
    await raceTimeout(
      Promise.all([...this.served.keys()].map((id) => this.hide(id))),
      UNANNOUNCE_WITHIN
    )
    fs.rmSync(this.linkDir, { recursive: true, force: true })
  }

  /** `sock`, or the same socket through a short link (in a dir of the node's own) when its path is too long to connect to. */
  private shortPath(sock: string): string {
    if (Buffer.byteLength(sock) < 100) return sock
    const dir = path.dirname(sock)
    let link = this.links.get(dir)
    if (link === undefined) {
      fs.mkdirSync(this.linkDir, { recursive: true, mode: 0o700 })
      link = path.join(this.linkDir, String(this.links.size))
      fs.symlinkSync(dir, link)
      this.links.set(dir, link)
    }
    return path.join(link, path.basename(sock))
  }

  private carry(e: Exposure, port: number, conn: SecretStream): void {
    conn.on('error', () => {})
    this.local(e, port, () => conn.destroyed).then(
      (local) => {
        if (local === null || conn.destroyed) {
          local?.destroy()
          conn.destroy()
          return
        }
        conn.on('close', () => local.destroy())
        local.socket.on('close', () => conn.end())
        local.socket.on('error', () => conn.destroy())
        this.emit('connection', { id: e.id, port, remote: conn.remotePublicKey })
        conn.pipe(local.socket)
        local.pipeTo(conn)
      },
      () => conn.destroy()
    )
  }

  /** A connection to the endpoint that said its token; retried while a starting service has not bound yet. */
  private async local(e: Exposure, port: number, gone: () => boolean): Promise<LocalStream | null> {
    const until = Date.now() + LOCAL_PATIENCE
    for (let wait = 50; !gone() && Date.now() < until; wait = Math.min(wait * 2, 500)) {
      const ep = e.endpoint(port)
      if (ep !== null) {
        const local = await LocalStream.open(
          ep,
          ep.socket === null ? null : this.shortPath(ep.socket)
        )
        if (local === 'refused') {
          log.warn('a service socket did not answer as its bridge: refused', { id: e.id, port })
          return null
        }
        if (local !== null) return local
      }
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
    return null
  }
}
