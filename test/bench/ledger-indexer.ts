/**
 * One indexer of the ledger benchmark, in its own process (as on its own
 * machine): test/bench/ledger.ts forks three of these and drives them over
 * IPC. The first creates the market; the others join it and get voted in.
 *
 *   argv: <bootstrap host:port,…> [market key hex]
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { generateKeyPair } from '../../lib/identity'
import { parseBootstrap } from '../../lib/config'
import { MarketPeer } from '../../market/peer'
import { untilIndexer } from '../../market/indexers'

export type Command =
  | { cmd: 'vote'; identity: string; writer: string }
  | { cmd: 'await-indexer' }
  | { cmd: 'stats' }
  | { cmd: 'close' }

export type Reply =
  | { kind: 'ready'; market: string; identity: string; writer: string }
  | { kind: 'done'; cmd: string }
  | {
      kind: 'stats'
      rss: number
      heapUsed: number
      envelopes: number
      applies: number
      bookLoads: number
      cpu: number
    }
  | { kind: 'error'; message: string }

const ACK_INTERVAL = Number(process.env.ACK_INTERVAL ?? 20)

async function main(): Promise<void> {
  const bootstrap = parseBootstrap(process.argv[2])
  const market = process.argv[3] ? Buffer.from(process.argv[3], 'hex') : null
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-bench-indexer-'))
  const identity = generateKeyPair()
  const peer = new MarketPeer({
    data,
    identity,
    bootstrap,
    ackInterval: ACK_INTERVAL,
    bigBatches: process.env.BIG !== '0',
    ...(market !== null
      ? { market }
      : { genesis: { faucets: [identity.publicKey], settlementWindow: 3600_000 } })
  })
  await peer.ready()
  const send = (r: Reply): void => {
    process.send?.(r)
  }
  send({
    kind: 'ready',
    market: peer.key.toString('hex'),
    identity: identity.publicKey.toString('hex'),
    writer: peer.full.writerKey.toString('hex')
  })

  process.on('message', (m: Command) => {
    run(m).then(
      () => send({ kind: 'done', cmd: m.cmd }),
      (err: Error) => send({ kind: 'error', message: err.message })
    )
  })

  async function run(m: Command): Promise<void> {
    if (m.cmd === 'vote') {
      const body = {
        action: 'add-indexer',
        identity: Buffer.from(m.identity, 'hex'),
        writer: Buffer.from(m.writer, 'hex')
      }
      const [outcome] = await peer.client.submitAndWait([{ type: 'governance', body }], {
        timeout: 60_000
      })
      if (!outcome.accepted) throw new Error(`vote refused: ${outcome.message ?? ''}`)
    } else if (m.cmd === 'await-indexer') {
      await untilIndexer(peer)
    } else if (m.cmd === 'stats') {
      const mem = process.memoryUsage()
      const cpu = process.cpuUsage()
      send({
        kind: 'stats',
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        envelopes: peer.ledger.counters.envelopes,
        applies: peer.ledger.counters.applies,
        bookLoads: peer.full.counters.bookLoads,
        cpu: (cpu.user + cpu.system) / 1e6
      })
    } else if (m.cmd === 'close') {
      await peer.close()
      fs.rmSync(data, { recursive: true, force: true })
      process.exit(0)
    }
  }
}

main().catch((err) => {
  process.send?.({ kind: 'error', message: (err as Error).message })
  process.exit(1)
})
