/**
 * `scit dht --listen HOST:PORT`: the bootstrap of a private HyperDHT, so a
 * market runs with no internet (a laptop, a LAN, a company's own network).
 * A few persistent DHT nodes in one process, the first on HOST:PORT: every
 * other command gets `--bootstrap HOST:PORT` and finds its peers through
 * them only. Bound to HOST alone (hyperdht's own `--bootstrap` binds 0.0.0.0).
 */
import type { Command } from 'commander'
import { AREAS } from './areas'
import dgram from 'dgram'
import DHT from 'hyperdht'
import { withCommon, configFrom, output, action, untilSignal, CommonFlags } from './command'
import { ScitError } from './errors'
import { logger } from './log'
import safetyCatch from 'safety-catch'

const log = logger('dht')

interface DhtFlags extends CommonFlags {
  listen: string
  nodes: string
}

export interface PrivateDht {
  /** What every other command passes as --bootstrap. */
  bootstrap: string
  nodes: DHT[]
  destroy(): Promise<void>
}

/** `host:port` with an IPv4 host (`localhost` is 127.0.0.1) and a port, 0 for any free one. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(text.trim())
  const host = m?.[1] === 'localhost' ? '127.0.0.1' : m?.[1]
  const port = Number(m?.[2])
  if (!m || host === undefined || !/^\d{1,3}(\.\d{1,3}){3}$/.test(host) || port > 65535)
    throw new ScitError(
      'INVALID_ARGUMENT',
      `--listen "${text}": expected an IPv4 host and a port, e.g. 127.0.0.1:24737 (port 0: any free one)`
    )
  if (host === '0.0.0.0')
    throw new ScitError(
      'INVALID_ARGUMENT',
      '--listen 0.0.0.0: give the address the other machines reach this one at (127.0.0.1 for this machine only)'
    )
  return { host, port }
}

/**
 * Bind HOST:PORT once first: a DHT node that fails to bind cannot be destroyed
 * (its destroy awaits the bind), and its interface watcher keeps the process alive.
 */
async function probe(host: string, port: number): Promise<void> {
  const sock = dgram.createSocket('udp4')
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject)
      sock.bind(port, host, () => resolve())
    })
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'EADDRINUSE')
      throw new ScitError('BUSY', `${host}:${port} is in use: another scit dht? pick another port`)
    if (code === 'EADDRNOTAVAIL')
      throw new ScitError('INVALID_ARGUMENT', `${host} is not an address of this machine`)
    throw err
  } finally {
    await new Promise<void>((resolve) => sock.close(() => resolve()))
  }
}

/** Start `count` persistent DHT nodes on `host`, the first on `port` (0: hyperdht's default, or the next free one). */
export async function startDht(host: string, port: number, count: number): Promise<PrivateDht> {
  await probe(host, port)
  const nodes: DHT[] = []
  const destroy = async (): Promise<void> => {
    for (const n of nodes.reverse()) await n.destroy()
  }
  try {
    const bind = port === 0 ? {} : { port: [port, port + 1] as [number, number], anyPort: false }
    const first = new DHT({ ephemeral: false, firewalled: false, bootstrap: [], host, ...bind })
    nodes.push(first)
    await first.fullyBootstrapped()
    const at = { host, port: first.address().port }
    // one node alone would be every lookup's only hop: a few share the routing and the records
    while (nodes.length < count) {
      const n = new DHT({ ephemeral: false, firewalled: false, bootstrap: [at], host })
      nodes.push(n)
      await n.fullyBootstrapped()
    }
    return { bootstrap: `${at.host}:${at.port}`, nodes, destroy }
  } catch (err) {
    await destroy().catch(safetyCatch)
    throw err
  }
}

export function register(program: Command): void {
  withCommon(program.command('dht'), { market: false })
    .summary(AREAS.dht.summary)
    .description(
      'run a few HyperDHT nodes on --listen, in the foreground, and print the --bootstrap every other scit command of this private market takes (Ctrl-C stops them)'
    )
    .option('--listen <host:port>', 'the address the first node binds; port 0: any', '127.0.0.1:0')
    .option('--nodes <n>', 'DHT nodes to run (1-16)', '3')
    .addHelpText(
      'after',
      '\nExample:\n  scit dht --listen 127.0.0.1:24737 &\n  export SCIT_BOOTSTRAP=127.0.0.1:24737   # then scit market create, serve, node start, bot … as usual'
    )
    .action(
      action(async (flags: DhtFlags) => {
        configFrom(flags) // -v
        const { host, port } = parseListen(flags.listen)
        const count = Number(flags.nodes)
        if (!Number.isInteger(count) || count < 1 || count > 16)
          throw new ScitError('INVALID_ARGUMENT', `--nodes "${flags.nodes}": a number from 1 to 16`)
        const dht = await startDht(host, port, count)
        output(
          flags,
          { bootstrap: dht.bootstrap, nodes: count },
          () =>
            `private DHT on ${dht.bootstrap} (${count} ${count === 1 ? 'node' : 'nodes'}); Ctrl-C stops it\n` +
            `give every other scit command --bootstrap ${dht.bootstrap}, or: export SCIT_BOOTSTRAP=${dht.bootstrap}`
        )
        if (host !== '127.0.0.1')
          log.warn(`reachable by any machine that reaches ${host}: a firewall keeps it private`)
        await untilSignal()
        await dht.destroy()
      })
    )
}
