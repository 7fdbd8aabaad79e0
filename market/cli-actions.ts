/** What `scit market create | serve | add-indexer | info | verify` do; their flags and help are in cli.ts. */
import { boundHeapGrowth } from '../lib/runtime'
import { configFrom, output, untilSignal, CommonFlags } from '../lib/command'
import { readConfigFile, writeConfigFile, requireMarket } from '../lib/config'
import { ScitError } from '../lib/errors'
import { loadIdentity } from '../lib/identity'
import { encodeKey, decodeKey } from '../lib/keys'
import { logger } from '../lib/log'
import { MarketPeer } from './peer'
import { verifyMarket } from './replay'
import { HyperbeeView } from './hyperbee-view'
import * as Q from './queries'
import { openCommandPeer, submitFinal } from './cli-peer'
import { parseDuration } from '../lib/duration'
import { stallIsAnError } from '../lib/stall'

const log = logger('market')

export interface CreateFlags extends CommonFlags {
  faucet?: string
  settlementWindow: string
  offerTtl: string
}
export interface TimeoutFlags extends CommonFlags {
  timeout: string
}

export async function cmdCreate(flags: CreateFlags): Promise<void> {
  const config = configFrom(flags)
  if (config.market)
    throw new ScitError(
      'INVALID_ARGUMENT',
      `${config.data} already belongs to market ${encodeKey(config.market)}: use another --data to create a new one`
    )
  const identity = loadIdentity(config.data)
  const faucets = flags.faucet
    ? flags.faucet.split(',').map((k) => decodeKey(k.trim(), 'faucet key'))
    : [identity.publicKey]
  const settlementWindow = parseDuration(flags.settlementWindow)
  const offerTtl = flags.offerTtl === '0' ? 0 : parseDuration(flags.offerTtl)
  const peer = new MarketPeer({
    data: config.data,
    identity,
    genesis: { faucets, settlementWindow, offerTtl },
    offline: true
  })
  await peer.ready()
  const info = {
    market: encodeKey(peer.key),
    identity: encodeKey(identity.publicKey),
    writer: encodeKey(peer.full.writerKey),
    faucets: faucets.map((f) => encodeKey(f)),
    settlementWindow,
    offerTtl
  }
  await peer.close()
  writeConfigFile(config.data, { market: info.market })
  output(flags, info, () => info.market)
  if (!flags.json) process.stderr.write(nextSteps(flags, info.market))
}

/** What to run after `market create`, with the --data and --bootstrap this one was given (stdout keeps only the key). */
function nextSteps(flags: CommonFlags, market: string): string {
  const data = flags.data !== undefined ? ` --data ${flags.data}` : ''
  const boot = flags.bootstrap !== undefined ? ` --bootstrap ${flags.bootstrap}` : ''
  return [
    'next:',
    `  scit market serve${data}${boot}                # keep it reachable and indexed (Ctrl-C stops it)`,
    `  scit market deposit KEY AMOUNT${data}${boot}   # as its faucet, fund a bot (KEY: the bot's scit id)`,
    `  nodes and bots join with --market ${market}${boot} (or SCIT_MARKET)`,
    ''
  ].join('\n')
}

export async function cmdServe(flags: CommonFlags & { relay: boolean }): Promise<void> {
  const config = configFrom(flags)
  const market = requireMarket(config)
  bindDataDir(config.data, market)
  const identity = loadIdentity(config.data)
  boundHeapGrowth()
  const peer = new MarketPeer({
    data: config.data,
    identity,
    market,
    bootstrap: config.bootstrap,
    relay: flags.relay
  })
  peer.on('error', (err: Error) => log.error('market peer failed', { error: err.message }))
  const disarm = stallIsAnError('scit market serve', () => peer.step)
  try {
    await peer.ready()
  } finally {
    disarm() // a start that fails says why itself
  }
  const base = peer.full.base
  base.on('is-indexer', () => log.warn('this peer is now an indexer'))
  base.on('is-non-indexer', () => log.warn('this peer is no longer an indexer'))
  const info = {
    market: encodeKey(peer.key),
    identity: encodeKey(identity.publicKey),
    writer: encodeKey(peer.full.writerKey),
    role: base.isIndexer ? 'indexer' : 'relay',
    relay: flags.relay
  }
  // Printed at once: the operator needs the writer key to get it voted in as an indexer.
  output(
    flags,
    info,
    () =>
      `serving market ${info.market} as ${info.role}${info.relay ? '' : ' (not relaying ops)'}\nidentity ${info.identity}\nwriter   ${info.writer}`
  )
  const signal = await untilSignal()
  log.info('stopping', { signal })
  await peer.close()
}

/** A data dir applies one market: its ledger's cores are that market's (followers keep theirs apart by key). */
function bindDataDir(data: string, market: Buffer): void {
  const bound = readConfigFile(data).market
  if (bound === undefined) {
    writeConfigFile(data, { market: encodeKey(market) })
    return
  }
  if (!decodeKey(bound, 'market in config.json').equals(market))
    throw new ScitError(
      'INVALID_CONFIG',
      `${data} serves market ${bound}: use another --data to serve market ${encodeKey(market)}`
    )
}

export async function cmdAddIndexer(
  identityText: string,
  writerText: string,
  flags: TimeoutFlags
): Promise<void> {
  const config = configFrom(flags)
  const identity = loadIdentity(config.data)
  const body = {
    action: 'add-indexer',
    identity: decodeKey(identityText, 'identity'),
    writer: decodeKey(writerText, 'writer key')
  }
  const { peer, close } = await openCommandPeer(config, identity)
  try {
    const { id } = await submitFinal(
      peer,
      { type: 'governance', body },
      parseDuration(flags.timeout),
      'the vote'
    )
    const indexers = await Q.listIndexers(HyperbeeView.reading(peer.ledger.view))
    const added = indexers.includes(encodeKey(body.identity))
    output(flags, { vote: id, added, indexers }, () =>
      added
        ? `${identityText} is now an indexer`
        : `vote ${id} recorded: more indexers must vote for the same change`
    )
  } finally {
    await close()
  }
}

export async function cmdInfo(flags: CommonFlags): Promise<void> {
  const config = configFrom(flags)
  const { peer, close } = await openCommandPeer(config, null)
  try {
    const view = HyperbeeView.reading(peer.ledger.view)
    const genesis = await Q.getGenesis(view)
    const stats = await Q.stats(view)
    const info = {
      market: encodeKey(peer.key),
      // This command follows the indexers' signed view: it ran the engine on this many ops (0).
      engineRuns: peer.ledger.counters.envelopes,
      founder: genesis?.author ?? null,
      faucets: genesis?.faucets ?? [],
      settlementWindow: genesis?.settlementWindow ?? null,
      indexers: await Q.listIndexers(view),
      final: { length: peer.ledger.finalVersion, of: peer.ledger.view.version },
      ...stats
    }
    output(flags, info, () =>
      [
        `market      ${info.market}`,
        `founder     ${info.founder ?? '?'}`,
        `indexers    ${info.indexers.join('\n            ')}`,
        `engine time ${new Date(stats.time).toISOString()}`,
        `offers ${stats.offers}, open bids ${stats.openBids}, trades ${
          Object.entries(stats.trades)
            .map(([s, n]) => `${s} ${n}`)
            .join(', ') || 0
        }`,
        `ops accepted ${stats.accepted}, rejected ${stats.rejected}; money minted ${stats.minted}, in balances ${stats.balances}, in escrow ${stats.escrow}`
      ].join('\n')
    )
  } finally {
    await close()
  }
}

export async function cmdVerify(flags: TimeoutFlags): Promise<void> {
  const config = configFrom(flags)
  const tty = process.stderr.isTTY === true && flags.json !== true
  const report = await verifyMarket({
    market: requireMarket(config),
    bootstrap: config.bootstrap,
    timeout: parseDuration(flags.timeout),
    onprogress: (p) => {
      if (tty) process.stderr.write(`\rreplayed ${p.replayed} of ${p.ops} ops `)
    }
  })
  if (tty) process.stderr.write('\n')
  const d = report.divergence
  output(flags, report, () =>
    d === null
      ? `ok: ${report.ops} ops replayed from genesis; all ${report.keys} keys of the signed view are what this engine computes`
      : `DIVERGED after ${report.keys} equal keys, at ${d.key}${d.op !== null ? ` (op ${d.op})` : ''}:\n  signed   ${d.signed ?? '(absent)'}\n  replayed ${d.replayed ?? '(absent)'}`
  )
  if (!report.ok) process.exitCode = 1
}
