/**
 * `scit market web`: a read-only page on loopback over a market peer (a follower, like every explorer command).
 * node:http, because the page needs nothing a framework would add: a dozen JSON routes, static files and one
 * event stream. The page, its script, its styles and uPlot are read from the package: nothing comes from outside.
 */
import http from 'http'
import type { IncomingMessage, ServerResponse, Server } from 'http'
import type { Socket } from 'net'
import fs from 'fs'
import path from 'path'
import ReadyResource from 'ready-resource'
import { ScitError, isScitError } from '../../lib/errors'
import { logger } from '../../lib/log'
import { encodeKey } from '../../lib/keys'
import type { MarketPeer } from '../peer'
import { isLoopbackHost, isLoopbackOrigin, SECURITY_HEADERS } from './guard'
import { route, ApiContext } from './api'
import { EventHub } from './events'
import { PresenceCache } from './presence-cache'

const log = logger('market/web')

const PUBLIC = path.join(__dirname, '..', '..', '..', 'market', 'web', 'public')

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8'
}

/** URL path → file: the page's own, and uPlot's from its package. */
function assets(): Map<string, { type: string; body: Buffer }> {
  const files: Record<string, string> = {
    '/': path.join(PUBLIC, 'index.html'),
    '/app.js': path.join(PUBLIC, 'app.js'),
    '/charts.js': path.join(PUBLIC, 'charts.js'),
    '/style.css': path.join(PUBLIC, 'style.css'),
    '/uplot.js': require.resolve('uplot/dist/uPlot.iife.min.js'),
    '/uplot.css': require.resolve('uplot/dist/uPlot.min.css')
  }
  const out = new Map<string, { type: string; body: Buffer }>()
  for (const [url, file] of Object.entries(files))
    out.set(url, { type: TYPES[path.extname(file)], body: fs.readFileSync(file) })
  return out
}

export interface WebOptions {
  peer: MarketPeer
  host?: string
  /** 0: any free port. */
  port?: number
  /** ms between two rounds of presence lookups. */
  presenceInterval?: number
  /** ms a node or contract page waits for a core. */
  coreTimeout?: number
}

export class WebServer extends ReadyResource {
  private server: Server | null = null
  private hub: EventHub | null = null
  private readonly presence: PresenceCache
  private readonly sockets = new Set<Socket>()
  private files = new Map<string, { type: string; body: Buffer }>()
  private api: ApiContext
  port = 0

  constructor(private readonly opts: WebOptions) {
    super()
    this.presence = new PresenceCache(opts.peer, opts.peer.swarm?.dht ?? null, {
      interval: opts.presenceInterval,
      onrefresh: () => this.hub?.notify('presence')
    })
    this.api = { peer: opts.peer, presence: this.presence, coreTimeout: opts.coreTimeout ?? 5000 }
  }

  /** The page's address, as to print it. */
  get url(): string {
    const host = this.opts.host ?? '127.0.0.1'
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.port}/`
  }

  protected override async _open(): Promise<void> {
    this.files = assets()
    this.hub = new EventHub(this.opts.peer)
    await this.presence.ready()
    const server = http.createServer((req, res) => this.handle(req, res))
    this.server = server
    server.on('connection', (s: Socket) => {
      this.sockets.add(s)
      s.once('close', () => this.sockets.delete(s))
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EADDRINUSE'
            ? new ScitError(
                'BUSY',
                `${this.opts.host ?? '127.0.0.1'}:${this.opts.port ?? 0} is in use: give another --listen (port 0 picks a free one)`
              )
            : err
        )
      )
      server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => resolve())
    })
    const address = server.address()
    this.port = typeof address === 'object' && address !== null ? address.port : 0
  }

  protected override async _close(): Promise<void> {
    this.hub?.close()
    if (this.server !== null) {
      const closed = new Promise<void>((resolve) => this.server?.close(() => resolve()))
      // open event streams would hold close() forever
      for (const s of this.sockets) s.destroy()
      await closed
    }
    await this.presence.close()
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v)
    if (
      !isLoopbackHost(req.headers.host, this.port) ||
      !isLoopbackOrigin(req.headers.origin as string | undefined, this.port)
    )
      return this.text(res, 403, `forbidden: this page answers only ${this.url}`)
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      return this.text(res, 405, 'read-only: GET and HEAD only')
    }
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname === '/api/events') {
      const since = req.headers['last-event-id']
      this.hub?.attach(res, typeof since === 'string' ? since : url.searchParams.get('since'))
      return
    }
    if (url.pathname.startsWith('/api/')) {
      this.json(res, url).catch((err) => {
        log.warn('answer failed', { err: (err as Error).message })
        if (!res.headersSent) this.text(res, 500, 'internal error')
      })
      return
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204)
      res.end()
      return
    }
    const file = this.files.get(url.pathname)
    if (file === undefined) return this.text(res, 404, 'not found')
    res.writeHead(200, {
      'Content-Type': file.type,
      'Content-Length': file.body.byteLength,
      'Cache-Control': 'no-cache'
    })
    res.end(req.method === 'HEAD' ? undefined : file.body)
  }

  private async json(res: ServerResponse, url: URL): Promise<void> {
    const r = route(url.pathname)
    if (r === null)
      return this.reply(res, 404, { error: { code: 'NOT_FOUND', message: `no ${url.pathname}` } })
    const id = this.hub?.id ?? ''
    try {
      const value = await r.handler(this.api, url.searchParams, r.arg)
      res.setHeader('X-Scit-Event-Id', id)
      res.setHeader('X-Scit-Market', encodeKey(this.opts.peer.key))
      this.reply(res, 200, value)
    } catch (err) {
      if (!isScitError(err)) {
        log.warn('query failed', { path: url.pathname, err: (err as Error).stack })
        return this.reply(res, 500, {
          error: { code: 'INTERNAL', message: (err as Error).message }
        })
      }
      const status =
        { INVALID_ARGUMENT: 400, NOT_FOUND: 404, TIMEOUT: 504 }[err.code as string] ?? 500
      this.reply(res, status, { error: { code: err.code, message: err.message } })
    }
  }

  private reply(res: ServerResponse, status: number, value: unknown): void {
    const body = Buffer.from(JSON.stringify(value))
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': body.byteLength,
      'Cache-Control': 'no-store'
    })
    res.end(body)
  }

  private text(res: ServerResponse, status: number, message: string): void {
    res.writeHead(status, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Cache-Control': 'no-store'
    })
    res.end(message + '\n')
  }
}
