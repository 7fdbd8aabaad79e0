/**
 * `scit connect CONTRACT [WORKLOAD[:PORT]]`: a local port that reaches a
 * contract's service wherever its replicas run (connect/tunnel.ts).
 */
import type { Command } from 'commander'
import { AREAS } from '../lib/areas'
import { withCommon, configFrom, action, untilSignal, CommonFlags } from '../lib/command'
import { requireMarket } from '../lib/config'
import { ScitError } from '../lib/errors'
import { loadIdentity } from '../lib/identity'
import { decodeKey, encodeKey } from '../lib/keys'
import { parseDuration } from '../lib/duration'
import { Tunnel } from './tunnel'
import type { Replica } from './replicas'

function replicaLine(added: boolean, r: Replica): string {
  return added
    ? `replica ${encodeKey(r.key).slice(0, 8)} authenticated: node ${r.node.slice(0, 8)} signed it for trade ${r.trade}`
    : `replica ${encodeKey(r.key).slice(0, 8)} (node ${r.node.slice(0, 8)}, trade ${r.trade}) left: its trade ended, or its node names another key`
}

interface ConnectFlags extends CommonFlags {
  listen?: string
  timeout?: string
}

export function register(program: Command): void {
  withCommon(
    program
      .command('connect')
      .argument('<contract>', 'the contract core key')
      .argument(
        '[service]',
        'WORKLOAD[:PORT] (default: the first workload with ports, its first port)'
      )
  )
    .description(AREAS.connect.summary)
    .option('--listen <host:port>', 'where to listen', '127.0.0.1:0')
    .option(
      '--timeout <duration>',
      'how long to wait for the market, the contract and a live replica',
      '30s'
    )
    .addHelpText(
      'after',
      '\nExamples:\n  scit connect k3x9…  --listen 127.0.0.1:8080      # then: curl http://127.0.0.1:8080/health\n  scit connect k3x9… web:8080 --json'
    )
    .action(
      action((contract: string, service: string | undefined, flags: ConnectFlags) =>
        cmdConnect(contract, service, flags)
      )
    )
}

export function parseService(text: string | undefined): {
  workload: string | null
  port: number | null
} {
  if (text === undefined || text === '') return { workload: null, port: null }
  const m = /^([a-z][a-z0-9-]{0,62})?(?::(\d{1,5}))?$/.exec(text)
  const port = m?.[2] === undefined ? null : Number(m[2])
  if (!m || (port !== null && (port < 1 || port > 65535)))
    throw new ScitError('INVALID_ARGUMENT', `"${text}" is not WORKLOAD[:PORT] (e.g. web:8080)`)
  return { workload: m[1] ?? null, port }
}

export function parseListen(text: string): { host: string; port: number } {
  const i = text.lastIndexOf(':')
  const port = Number(text.slice(i + 1))
  const host = i > 0 ? text.slice(0, i) : '127.0.0.1'
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535 || host === '')
    throw new ScitError(
      'INVALID_ARGUMENT',
      `--listen "${text}" is not HOST:PORT (e.g. 127.0.0.1:8080)`
    )
  return { host, port }
}

async function cmdConnect(
  ref: string,
  service: string | undefined,
  flags: ConnectFlags
): Promise<void> {
  const contract = decodeKey(ref, 'contract key')
  const which = parseService(service)
  const listen = parseListen(flags.listen ?? '127.0.0.1:0')
  const timeout = parseDuration(flags.timeout ?? '30s')
  const deadline = Date.now() + timeout
  const config = configFrom(flags)
  const market = requireMarket(config)
  const keyPair = loadIdentity(config.data)
  const tunnel = new Tunnel({
    contract,
    market,
    workload: which.workload,
    port: which.port,
    keyPair,
    bootstrap: config.bootstrap,
    listen,
    timeout,
    progress: (line) => process.stderr.write(`${line}\n`)
  })
  const stopped = untilSignal()
  try {
    await tunnel.ready()
    const { host, port } = tunnel.address
    const target = `${tunnel.service.workload}:${tunnel.service.port} of contract ${encodeKey(contract)}`
    if (flags.json)
      process.stdout.write(
        JSON.stringify({
          listen: `${host}:${port}`,
          host,
          port,
          contract: encodeKey(contract),
          workload: tunnel.service.workload,
          servicePort: tunnel.service.port,
          key: encodeKey(keyPair.publicKey)
        }) + '\n'
      )
    else process.stdout.write(`listening on ${host}:${port} → ${target}, through the DHT\n`)
    const say = (line: string): boolean => process.stderr.write(`${line}\n`)
    const verbose = (flags.verbose ?? 0) > 0
    tunnel.on('connection', (e: { replica: string }) => {
      if (verbose) say(`connection → replica ${e.replica.slice(0, 8)}`)
    })
    tunnel.on('refused', (e: { reason: string }) => say(`a connection waits: ${e.reason}`))
    // -v: each replica as it is authenticated or leaves; else one line when there is one to reach, and when there is none
    if (verbose) for (const r of tunnel.live) say(replicaLine(true, r))
    tunnel.on('replica', (e: { added: boolean; replica: Replica }) => {
      if (verbose) say(replicaLine(e.added, e.replica))
    })
    let connected = false
    const count = (n: number): void => {
      if (tunnel.stopped || connected === n > 0) return
      connected = n > 0
      if (connected) say(`connected: ${n} live ${n === 1 ? 'replica' : 'replicas'} of ${target}`)
      else
        say(
          `no live replica of ${target} now (${tunnel.reasons().join('; ')}): new connections wait for one`
        )
    }
    tunnel.on('replicas', count)
    // the stop may have been read while the tunnel opened
    const stop = new Promise<string>((resolve) => {
      if (tunnel.stopped) resolve(tunnel.reasons()[0])
      else tunnel.once('stopped', resolve)
    })
    // The first read of the nodes' status cores takes a moment: say so only when it takes longer.
    await Promise.race([tunnel.waitReplica(1000).catch(() => 0), stopped, stop])
    count(tunnel.replicaCount)
    if (tunnel.replicaCount === 0 && !tunnel.stopped) {
      say(
        `waiting for a live replica of ${target} (up to ${flags.timeout ?? '30s'}): ${tunnel.reasons().join('; ')}`
      )
      await Promise.race([
        tunnel.waitReplica(Math.max(0, deadline - Date.now()), timeout),
        stopped,
        stop
      ])
    }
    const why = await Promise.race([stopped.then(() => null), stop])
    if (why !== null) throw new ScitError('STOPPED', `${why}; its local connections are closed`)
  } finally {
    await tunnel.close()
  }
}
