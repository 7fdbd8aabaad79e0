/** Test helpers for `scit node start` as its own process, as a farmer runs it. */
import path from 'path'
import { spawn, ChildProcess } from 'child_process'
import type { Assert } from 'brittle'
import type { Testnet } from '../../lib/testnet'
import { encodeKey } from '../../lib/keys'

/** The CLI entry built next to the tests (dist/ or .dist-*). */
export const SCIT = path.join(__dirname, '..', '..', 'lib', 'cli.js')

export interface NodeProcess { child: ChildProcess; stderr: () => string; exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }> }

/**
 * Spawn `scit node start ARGS` (behind `wrap`, an argv prefix such as an
 * unshare); resolves once it printed ready, rejects if it exits first.
 * Stopped with SIGTERM at teardown.
 */
export async function startNode (t: Assert, args: string[], opts: { wrap?: string[] } = {}): Promise<NodeProcess> {
  const p = spawnNode(t, args, opts)
  await new Promise<void>((resolve, reject) => {
    p.child.stdout?.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve() })
    p.exited.then(e => reject(new Error(`node exited ${String(e.code)}: ${p.stderr()}`)), reject)
  })
  return p
}

/** Spawn `scit node start ARGS` without waiting for it. */
export function spawnNode (t: Assert, args: string[], opts: { wrap?: string[] } = {}): NodeProcess {
  // --pdeathsig: even if this runner dies mid-test, the node (and, through bwrap, its workloads) goes with it.
  const argv = [...(opts.wrap ?? []), '/usr/bin/setpriv', '--pdeathsig', 'KILL', '--', process.execPath, SCIT, 'node', 'start', ...args]
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.once('exit', (code, signal) => resolve({ code, signal })))
  t.teardown(() => stopNode({ child, stderr: () => err, exited }))
  return { child, stderr: () => err, exited }
}

/** SIGTERM, as a farmer's service manager stops it; resolves with how it exited. */
export async function stopNode (p: NodeProcess): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM')
  return await p.exited
}

/** The flags every test node passes: its data, the market, the testnet, work dirs the sandbox user can reach, a small capacity. */
export function nodeArgs (data: string, market: Buffer, net: Testnet, workloads: string): string[] {
  return ['--data', data, '--market', encodeKey(market), '--bootstrap', net.bootstrap.map(x => `${x.host}:${x.port}`).join(','),
    '--workloads', workloads, '--cpu', '1', '--memory', '2GiB', '--ssd', '1GiB', '--min-lease', '1', '--price-cpu', '100', '--price-memory', '10']
}

export interface Home { port: number; hellos: string[]; count: (n: number) => Promise<void>; closed: (n: number) => Promise<void> }

/**
 * A TCP server on 127.0.0.1 that workloads call ("hello …") when they start:
 * tests wait on these connections (and on their closing, when a workload
 * dies), never on time. Closed at teardown.
 */
export async function callHome (t: Assert): Promise<Home> {
  const net = await import('net')
  const hellos: string[] = []
  let closes = 0
  const waiters = new Set<() => void>()
  const wake = (): void => { for (const w of [...waiters]) w() }
  const socks = new Set<import('net').Socket>()
  const server = net.createServer(sock => {
    socks.add(sock)
    sock.on('error', () => {})
    sock.on('close', () => { socks.delete(sock); closes++; wake() })
    sock.on('data', d => { hellos.push(d.toString()); wake() })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { server.close(() => resolve()); for (const s of socks) s.destroy() }))
  const until = (ok: () => boolean): Promise<void> => new Promise(resolve => {
    if (ok()) return resolve()
    const w = (): void => { if (ok()) { waiters.delete(w); resolve() } }
    waiters.add(w)
  })
  return {
    port: (server.address() as import('net').AddressInfo).port,
    hellos,
    count: n => until(() => hellos.length >= n),
    closed: n => until(() => closes >= n)
  }
}

/** Workload code (node) that says hello to `callHome` on HOME_PORT and keeps the connection open while it lives. */
export const HELLO = 'const s = require("net").connect(Number(process.env.HOME_PORT), "127.0.0.1", () => s.write("hello " + process.pid)); s.on("error", () => {}); setInterval(() => {}, 1000)'
