/**
 * A market peer for one CLI command. RocksDB locks a store to one process and `serve` keeps it open, so a command
 * that finds it locked joins with a throw-away store, the same identity, and syncs from the network.
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import type { Config } from '../lib/config'
import { requireMarket } from '../lib/config'
import { ScitError } from '../lib/errors'
import type { KeyPair } from '../lib/identity'
import { logger } from '../lib/log'
import { MarketPeer } from './peer'
import type { OpRequest, Outcome } from './types'
import safetyCatch from 'safety-catch'

const log = logger('market')

export interface CommandPeer {
  peer: MarketPeer
  close: () => Promise<void>
}

export async function openCommandPeer(
  config: Config,
  identity: KeyPair | null,
  opts: { syncTimeout?: number } = {}
): Promise<CommandPeer> {
  const market = requireMarket(config)
  const progress = (line: string): boolean => process.stderr.write(`${line}\n`)
  const base = {
    identity,
    market,
    bootstrap: config.bootstrap,
    joinTimeout: config.joinTimeout,
    announce: false,
    follow: true,
    progress
  }
  let peer = new MarketPeer({ ...base, data: config.data })
  let tmp: string | null = null
  try {
    await peer.ready()
  } catch (err) {
    await peer.close().catch(safetyCatch)
    if (!/lock/i.test((err as Error).message)) throw err
    log.info('the data directory is in use (scit market serve?): joining with a temporary store')
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-market-'))
    peer = new MarketPeer({ ...base, data: tmp })
    await peer.ready()
  }
  const dir = tmp
  const close = async (): Promise<void> => {
    await peer.close()
    if (dir !== null) fs.rmSync(dir, { recursive: true, force: true })
  }
  try {
    await peer.client.synced(opts.syncTimeout ?? 30_000)
    await peer.ledger.catchUp()
  } catch (err) {
    await close()
    throw err
  }
  return { peer, close }
}

/** Waits until final; a refusal becomes a REJECTED error with the engine's reason. */
export async function submitFinal(
  peer: MarketPeer,
  op: OpRequest,
  timeout: number,
  what: string
): Promise<Outcome> {
  const [id] = await peer.client.submit([op])
  const outcome = await peer.client.outcome(id, { final: true, timeout })
  if (!outcome.accepted)
    throw new ScitError(
      'REJECTED',
      `${what} was refused (${outcome.reason ?? '?'}): ${outcome.message ?? ''}`
    )
  return outcome
}
