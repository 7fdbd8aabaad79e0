/** `scit market …`: flags and help of create, serve, add-indexer, info and verify (their actions are in cli-actions.ts), money and the explorer. */
import { Command } from 'commander'
import { AREAS } from '../lib/areas'
import { withCommon, action } from '../lib/command'
import { cmdCreate, cmdServe, cmdAddIndexer, cmdInfo, cmdVerify } from './cli-actions'
import { register as registerMoney } from './cli-money'
import { register as registerExplorer } from './explorer'

export function register(program: Command): void {
  const market = program.command('market').description(AREAS.market.summary)
  create(market)
  serve(market)
  addIndexer(market)
  info(market)
  verify(market)
  registerMoney(market)
  registerExplorer(market)
}

function create(market: Command): void {
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
    .action(action(cmdCreate))
}

function serve(market: Command): void {
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
    .action(action(cmdServe))
}

function addIndexer(market: Command): void {
  withCommon(market.command('add-indexer <identity> <writer>'))
    .summary('vote to add an indexer')
    .description(
      'vote, as a current indexer, to make IDENTITY (its signing key) an indexer writing through WRITER (the writer key its "scit market serve" prints); it happens once a majority of indexers voted'
    )
    .option('--timeout <duration>', 'how long to wait for the vote to be final', '60s')
    .action(action(cmdAddIndexer))
}

function info(market: Command): void {
  withCommon(market.command('info'))
    .summary('show the market: key, indexers, engine time, counts')
    .description(
      'show the market: key, genesis, indexers, engine time and counts of offers, bids, trades and ops'
    )
    .action(action(cmdInfo))
}

function verify(market: Command): void {
  withCommon(market.command('verify'))
    .summary("replay the market from genesis and check the indexers' signed view")
    .description(
      "trust nobody: fetch every op, apply them all from genesis with this machine's engine, and compare the result with the view the market's indexers signed, key by key; exits 1 and names the first key (and op) that differs"
    )
    .option('--timeout <duration>', 'give up when the replay has not caught up by then', '30m')
    .action(action(cmdVerify))
}
