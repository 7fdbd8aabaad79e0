/** Test helpers for `scit node start` as its own process, as a farmer runs it. */
import path from 'path'
import { spawn, ChildProcess } from 'child_process'
import type { Assert } from 'brittle'
import type { Testnet } from '../../lib/testnet'
import { encodeKey } from '../../lib/keys'
import { loadIdentity, KeyPair } from '../../lib/identity'
import { serviceKeyPair } from '../../lib/service'
import { workloadId } from '../../lib/trade-workload'
import type { SecretStream } from 'hyperdht'
import safetyCatch from 'safety-catch'
import type { Runtime } from '../../lib/runtime'
import type { MarketPeer } from '../../market/peer'
import { scitArgv } from './runtime'
import { endChild } from './child'
import { offered } from './ledger'
import { tmpDir } from './node'

export { SCIT } from './runtime'

export interface NodeProcess {
  child: ChildProcess
  stderr: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

export interface SpawnOptions {
  /** An argv prefix such as an unshare. */
  wrap?: string[]
  /** The runtime scit runs on (default node). */
  runtime?: Runtime
  /** Its environment (default this process's). */
  env?: NodeJS.ProcessEnv
}

/**
 * Spawn `scit node start ARGS`; resolves once it printed ready, rejects if
 * it exits first. Stopped with SIGTERM at teardown.
 */
export async function startNode(
  t: Assert,
  args: string[],
  opts: SpawnOptions = {}
): Promise<NodeProcess> {
  const p = spawnNode(t, args, opts)
  await new Promise<void>((resolve, reject) => {
    p.child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve()
    })
    p.exited.then((e) => reject(new Error(`node exited ${String(e.code)}: ${p.stderr()}`)), reject)
  })
  return p
}

export interface SellingNode extends NodeProcess {
  data: string
  key: string
  /** Its `scit node start` flags, to start it again on the same data dir. */
  args: string[]
}

/** `scit node start` as its own process on a fresh data dir, once its offer is in `peer`'s market. */
export async function sellingNode(
  t: Assert,
  net: Testnet,
  peer: MarketPeer,
  opts: SpawnOptions = {}
): Promise<SellingNode> {
  const data = await t.tmp()
  const key = encodeKey(loadIdentity(data).publicKey)
  const args = nodeArgs(data, peer.key, net, path.join(await tmpDir(t), 'workloads'))
  const p = await startNode(t, args, opts)
  await offered(peer, key)
  return { ...p, data, key, args }
}

/** Spawn `scit node start ARGS` without waiting for it. */
export function spawnNode(t: Assert, args: string[], opts: SpawnOptions = {}): NodeProcess {
  // --pdeathsig: even if this runner dies mid-test, the node (and, through bwrap, its workloads) goes with it.
  const argv = [
    ...(opts.wrap ?? []),
    '/usr/bin/setpriv',
    '--pdeathsig',
    'KILL',
    '--',
    ...scitArgv(opts.runtime),
    'node',
    'start',
    ...args
  ]
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env })
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
    if (process.env.SCIT_TEST_ECHO) process.stderr.write(d)
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal }))
  )
  // before the market's peers (-1): a node stopping sends its withdrawal, and with no market left it waits 5 s for it
  t.teardown(() => stopNode({ child, stderr: () => err, exited }), { order: -2 })
  return { child, stderr: () => err, exited }
}

/** SIGTERM, as a farmer's service manager stops it; resolves with how it exited (SIGKILL after 30 s: a test never hangs on it). */
export async function stopNode(
  p: NodeProcess
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return await endChild(p.child, 'SIGTERM', 30_000)
}

/** The flags every test node passes: its data, the market, the testnet, work dirs the sandbox user can reach, a small capacity. */
export function nodeArgs(data: string, market: Buffer, net: Testnet, workloads: string): string[] {
  return [
    '--data',
    data,
    '--market',
    encodeKey(market),
    '--bootstrap',
    net.bootstrap.map((x) => `${x.host}:${x.port}`).join(','),
    '--workloads',
    workloads,
    '--cpu',
    '1',
    '--memory',
    '2GiB',
    '--ssd',
    '1GiB',
    '--min-lease',
    '1',
    '--price-cpu',
    '100',
    '--price-memory',
    '10'
  ]
}

export interface Home {
  hellos: string[]
  /** Start calling the service `key` (its DHT key for one port) on a loop, one session after the other. */
  watch: (key: Buffer) => void
  count: (n: number) => Promise<void>
  closed: (n: number) => Promise<void>
  /**
   * The node serving the open sessions was killed: drop them now, uncounted, and call again at once, rather than
   * wait the ~20 s a stream to a dead peer takes to time out.
   */
  dropped: () => void
}

/**
 * Calls a workload (HELLO) through the DHT, as the contract's bot (`keyPair`):
 * a session stays open while the workload lives, and a new one is opened as
 * soon as it can be. Tests wait on these sessions (a hello when one opens, a
 * close when the workload dies), never on time. Workloads have no network of
 * their own (docs/ARCHITECTURE.md "Service access"): they cannot call anyone, so the test calls them.
 */
export async function callHome(t: Assert, tn: Testnet, keyPair: KeyPair): Promise<Home> {
  const dht = tn.createNode()
  const hellos: string[] = []
  let closes = 0
  let over = false
  const waiters = new Set<() => void>()
  const wake = (): void => {
    for (const w of [...waiters]) w()
  }
  const streams = new Set<SecretStream>()
  const dead = new WeakSet<SecretStream>()
  t.teardown(async () => {
    over = true
    for (const s of streams) s.destroy()
    await dht.destroy()
  })
  const session = (key: Buffer): Promise<boolean> =>
    new Promise((resolve) => {
      const s = dht.connect(key, { keyPair })
      streams.add(s)
      let opened = false
      s.on('error', () => {})
      s.on('end', () => s.end())
      s.on('open', () => {
        opened = true
      })
      s.on('data', (d: Buffer) => {
        hellos.push(d.toString())
        wake()
      })
      s.on('close', () => {
        streams.delete(s)
        if (opened && !dead.has(s)) {
          closes++
          wake()
        }
        resolve(opened)
      })
    })
  const until = (ok: () => boolean): Promise<void> =>
    new Promise((resolve) => {
      if (ok()) return resolve()
      const w = (): void => {
        if (ok()) {
          waiters.delete(w)
          resolve()
        }
      }
      waiters.add(w)
    })
  return {
    hellos,
    watch: (key) => {
      const loop = async (): Promise<void> => {
        while (!over) {
          if (!(await session(key)) && !over)
            await new Promise((resolve) => setTimeout(resolve, 200))
        }
      }
      loop().catch(safetyCatch)
    },
    count: (n) => until(() => hellos.length >= n),
    closed: (n) => until(() => closes >= n),
    dropped: () => {
      for (const s of streams) {
        dead.add(s)
        s.destroy()
      }
    }
  }
}

/** The DHT key under which the node of `data` serves `port` of `trade` (lib/service.ts). */
export function serviceKey(data: string, trade: string, port: number): Buffer {
  return serviceKeyPair(loadIdentity(data), workloadId({ id: trade }), port).publicKey
}

/** Workload code (node): a service that says hello (with its pid) to every connection and keeps it open while it lives. */
export const HELLO =
  'require("net").createServer(s => { s.on("error", () => {}); s.write("hello " + process.pid) }).listen(Number(process.env.PORT), "127.0.0.1"); setInterval(() => {}, 1000)'
