/** `scit market …`: create, serve, govern and look at a market; the read-only explorer is in market/explorer/. */
import { Command } from 'commander'
import { withCommon, configFrom, output, action, untilSignal, CommonFlags } from '../lib/command'
import { readConfigFile, writeConfigFile, requireMarket } from '../lib/config'
import { ScitError } from '../lib/errors'
import { loadIdentity } from '../lib/identity'
import { encodeKey, decodeKey } from '../lib/keys'
import { logger } from '../lib/log'
import { MarketPeer } from './peer'
import { verifyMarket } from './replay'
import { HyperbeeView } from './hyperbee-view'
import * as Q from './queries'
import { openCommandPeer, parseDuration, submitFinal } from './cli-peer'
import { register as registerMoney } from './cli-money'
import { register as registerExplorer } from './explorer'

const log = logger('market')

interface CreateFlags extends CommonFlags {
  faucet?: string
  settlementWindow: string
  offerTtl: string
}
interface VoteFlags extends CommonFlags {
  timeout: string
}

export function register(program: Command): void {
  const market = program
    .command('market')
    .description('create, serve and explore a market (the order book of 3nodes and 3bots)')

  withCommon(market.command('create'), { market: false })
    .summary('create a new market (prints its key)')
    .description(
      'create a new market in --data: this identity signs its genesis and is its first indexer; prints the market key and saves it to <data>/config.json'
    )
    .option(
      '--faucet <key,...>',
      'identity keys allowed to mint funds with deposit ops (default: this identity)'
    )
    .option(
      '--settlement-window <duration>',
      'how long a trade may stay unsettled before its capacity returns to the book',
      '10m'
    )
    .option(
      '--offer-ttl <duration>',
      'an offer its node has not renewed for this long is not sold (nodes renew three times per TTL); 0: never',
      '30m'
    )
    .addHelpText(
      'after',
      '\nThen run "scit market serve" in the same --data to make the market reachable.'
    )
    .action(
      action(async (flags: CreateFlags) => {
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
      })
    )

  withCommon(market.command('serve'))
    .summary('run an indexer or relay for the market, in the foreground')
    .description(
      "run this data directory's market peer in the foreground: join the market topic, replicate, and index (when an indexer) until SIGINT/SIGTERM; logs go to stderr"
    )
    .option(
      '--no-relay',
      "as an indexer, do not append ops for peers that are not writers (they then append optimistic blocks), and send this peer's own ops only in its own blocks"
    )
    .addHelpText(
      'after',
      '\nAn indexer relays ops: bots and nodes hand it their signed ops, it checks each signature and appends them to its own writer core, so every peer applies them once. A peer that is not an indexer relays the ledger itself: it keeps and serves all of it. Add -v to see peers come and go.'
    )
    .action(
      action(async (flags: CommonFlags & { relay: boolean }) => {
        const config = configFrom(flags)
        const market = requireMarket(config)
        // A data dir applies one market: its ledger's cores are that market's (followers keep theirs apart by key).
        const bound = readConfigFile(config.data).market
        if (bound !== undefined && !decodeKey(bound, 'market in config.json').equals(market)) {
          throw new ScitError(
            'INVALID_CONFIG',
            `${config.data} serves market ${bound}: use another --data to serve market ${encodeKey(market)}`
          )
        }
        if (bound === undefined) writeConfigFile(config.data, { market: encodeKey(market) })
        const identity = loadIdentity(config.data)
        const peer = new MarketPeer({
          data: config.data,
          identity,
          market,
          bootstrap: config.bootstrap,
          relay: flags.relay
        })
        peer.on('error', (err: Error) => log.error('market peer failed', { error: err.message }))
        await peer.ready()
        const base = peer.full.base
        const role = (): string => (base.isIndexer ? 'indexer' : 'relay')
        base.on('is-indexer', () => log.warn('this peer is now an indexer'))
        base.on('is-non-indexer', () => log.warn('this peer is no longer an indexer'))
        const info = {
          market: encodeKey(peer.key),
          identity: encodeKey(identity.publicKey),
          writer: encodeKey(peer.full.writerKey),
          role: role(),
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
      })
    )

  withCommon(market.command('add-indexer <identity> <writer>'))
    .summary('vote to add an indexer')
    .description(
      'vote, as a current indexer, to make IDENTITY (its signing key) an indexer writing through WRITER (the writer key its "scit market serve" prints); it happens once a majority of indexers voted'
    )
    .option('--timeout <duration>', 'how long to wait for the vote to be final', '60s')
    .action(
      action(async (identityText: string, writerText: string, flags: VoteFlags) => {
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
      })
    )

  withCommon(market.command('info'))
    .summary('show the market: key, indexers, engine time, counts')
    .description(
      'show the market: key, genesis, indexers, engine time and counts of offers, bids, trades and ops'
    )
    .action(
      action(async (flags: CommonFlags) => {
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
      })
    )

  withCommon(market.command('verify'))
    .summary("replay the market from genesis and check the indexers' signed view")
    .description(
      "trust nobody: fetch every op, apply them all from genesis with this machine's engine, and compare the result with the view the market's indexers signed, key by key; exits 1 and names the first key (and op) that differs"
    )
    .option('--timeout <duration>', 'give up when the replay has not caught up by then', '30m')
    .action(
      action(async (flags: CommonFlags & { timeout: string }) => {
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
      })
    )

  registerMoney(market)
  registerExplorer(market)
}
