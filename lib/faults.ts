/**
 * The soak's hook (test/soak/): off unless SCIT_FAULTS names a base path, which only the soak sets. Then
 * `<base>.cut.json` ({"all": true} or {"keys": [hex, …]}) cuts this process's DHT streams, in and out, from
 * everyone or from those keys, until the file goes; and `<base>.probe.json` says, every second, which keys this
 * process connects with and what its market peer reads (probe), so the soak can partition peers and compare views.
 * Streams are destroyed, not frozen: a cut looks like a link that fails, not one that hangs (SIGSTOP does that).
 */
import fs from 'fs'
import type DHT from 'hyperdht'
import type { KeyPair, SecretStream, ServerOptions } from 'hyperdht'
import safetyCatch from 'safety-catch'

const BASE = process.env.SCIT_FAULTS ?? ''
const POLL = 200

type Probe = () => Promise<object>

class Faults {
  private all = false
  private keys = new Set<string>()
  private readonly streams = new Map<SecretStream, string>()
  private readonly own = new Set<string>()
  private readonly probes = new Map<string, Probe>()
  private writing = false

  constructor(private readonly base: string) {
    fs.watchFile(this.base + '.cut.json', { interval: POLL, persistent: false }, () => this.read())
    this.read()
    setInterval(() => this.report(), 1000).unref()
  }

  private read(): void {
    let cut: { all?: boolean; keys?: string[] } = {}
    try {
      cut = JSON.parse(fs.readFileSync(this.base + '.cut.json', 'utf8')) as typeof cut
    } catch {}
    this.all = cut.all === true
    this.keys = new Set(cut.keys ?? [])
    for (const [s, key] of this.streams) if (this.cut(key)) s.destroy()
  }

  private cut(key: string): boolean {
    return this.all || this.keys.has(key)
  }

  private track(s: SecretStream, key: string): void {
    this.streams.set(s, key)
    s.once('close', () => this.streams.delete(s))
  }

  private mine(kp: KeyPair | undefined): void {
    if (kp !== undefined) this.own.add(kp.publicKey.toString('hex'))
  }

  attach(dht: DHT): void {
    this.mine(dht.defaultKeyPair)
    cuttable(dht, (key) => this.cut(key), {
      opened: (s, key) => this.track(s, key),
      keyPair: (kp) => this.mine(kp)
    })
  }

  probe(name: string, fn: Probe): () => void {
    this.probes.set(name, fn)
    return () => {
      if (this.probes.get(name) === fn) this.probes.delete(name)
    }
  }

  private report(): void {
    if (this.writing) return
    this.writing = true
    const run = async (): Promise<void> => {
      const out: Record<string, unknown> = { pid: process.pid, at: Date.now(), keys: [...this.own] }
      for (const [name, fn] of this.probes)
        out[name] = await fn().catch((err: Error) => ({ error: err.message }))
      fs.writeFileSync(this.base + '.probe.tmp', JSON.stringify(out))
      fs.renameSync(this.base + '.probe.tmp', this.base + '.probe.json')
    }
    run()
      .catch(safetyCatch)
      .finally(() => {
        this.writing = false
      })
  }
}

export interface CutHooks {
  /** each stream dialled or accepted while not cut, with its peer's key (hex) */
  opened?(s: SecretStream, key: string): void
  /** each key pair the node dials or listens with */
  keyPair?(kp: KeyPair | undefined): void
}

/**
 * Make `dht` fail its streams with a peer while `cut(key hex)` holds: its dials are destroyed, incoming handshakes
 * refused (and a stream accepted as the cut starts destroyed). The soak's hook and the tests' cut swarms use it.
 */
export function cuttable(dht: DHT, cut: (key: string) => boolean, hooks: CutHooks = {}): DHT {
  const pass = (s: SecretStream, key: string): void => {
    if (cut(key)) queueMicrotask(() => s.destroy())
    else hooks.opened?.(s, key)
  }
  const connect = dht.connect.bind(dht)
  dht.connect = (key, opts) => {
    hooks.keyPair?.(opts?.keyPair)
    const s = connect(key, opts)
    pass(s, key.toString('hex'))
    return s
  }
  const createServer = dht.createServer.bind(dht)
  dht.createServer = (opts: ServerOptions, onconnection) => {
    const firewall = opts.firewall
    const server = createServer(
      {
        ...opts,
        firewall: (key, payload, address) =>
          cut(key.toString('hex')) ||
          (firewall !== undefined ? firewall(key, payload, address) : false)
      },
      onconnection
    )
    server.on('connection', (s: SecretStream) => pass(s, s.remotePublicKey.toString('hex')))
    const listen = server.listen.bind(server)
    server.listen = (kp) => {
      hooks.keyPair?.(kp)
      return listen(kp)
    }
    return server
  }
  return dht
}

const faults = BASE === '' ? null : new Faults(BASE)

/** Let the soak cut this DHT node's streams (a no-op unless SCIT_FAULTS is set). */
export function faultable(dht: DHT): DHT {
  faults?.attach(dht)
  return dht
}

/** Report `fn()` in the probe file under `name` (a no-op unless SCIT_FAULTS is set); returns the unregister. */
export function probe(name: string, fn: Probe): () => void {
  return faults?.probe(name, fn) ?? (() => {})
}

/**
 * The soak's window inside a step: SCIT_SOAK_HOLD="<step>:<ms>", set only on a soak command armed to be killed
 * there, makes the step wait that long, so the kill lands inside it (between a deploy's header and its deploy
 * instruction there are otherwise a few ms, all written in one burst before the soak reads the first line).
 */
export async function hold(step: string): Promise<void> {
  const [name, ms] = (process.env.SCIT_SOAK_HOLD ?? '').split(':')
  if (name !== step) return
  await new Promise((resolve) => setTimeout(resolve, Number(ms) || 0))
}
