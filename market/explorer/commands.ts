/**
 * `scit market nodes | offers | bids | trades | contracts | templates |
 * balances | stats`: one command per list view (views.ts), each with the
 * filters that mean something to it. They join the market without an
 * identity, so they never write anything.
 */
import { Command, Option } from 'commander'
import { withCommon, configFrom, output, action, CommonFlags } from '../../lib/command'
import { openCommandPeer, parseDuration } from '../cli-peer'
import { parseFilter, FilterFlags } from './filters'
import { VIEWS, ListView, FilterName, withSnapshot } from './views'
import { JSON_FIELDS, EXAMPLES } from './help'

export interface ExplorerFlags extends CommonFlags, FilterFlags { timeout?: string; interval?: string; lines?: string }

export function collect (v: string, prev: string[] = []): string[] {
  return [...prev, v]
}

/** Declare on `cmd` the filter flags of `names`; `v` tailors their help. */
export function filterOptions (cmd: Command, names: readonly FilterName[], v: Partial<ListView> = {}): Command {
  const has = (n: FilterName): boolean => names.includes(n)
  if (has('country')) cmd.option('--country <CC>', v.name === 'bids' ? 'only bids that may be placed in this country (ISO 3166 alpha-2)' : 'only nodes in this country (ISO 3166 alpha-2)')
  if (has('min')) {
    const what = v.name === 'bids' ? 'asking at least this per replica' : 'with at least this free'
    cmd.option('--min-cpu <cores>', `only ${v.name ?? 'rows'} ${what}: cores (2, 0.5) or millicores (500m)`)
    cmd.option('--min-memory <size>', `only ${v.name ?? 'rows'} ${what} memory, e.g. 4GiB`)
    cmd.option('--min-ssd <size>', `only ${v.name ?? 'rows'} ${what} ssd, e.g. 100GiB`)
  }
  if (has('attr')) {
    cmd.option('--attr <name,...>', v.name === 'bids' ? 'only bids that require these attributes (repeatable)' : 'only nodes with every one of these attributes (repeatable)', collect)
    cmd.addOption(new Option('--attribute <name>', 'same as --attr').argParser(collect).hideHelp())
  }
  if (has('maxPrice')) cmd.option('--max-price <n>', v.maxPrice ?? 'at most this price per hour, in the market\'s smallest unit')
  if (has('state') && v.states) cmd.option('--state <state>', `only in this state: ${v.states.join(', ')}`)
  if (has('node')) cmd.option('--node <key>', 'only this node (a key, or the first characters the tables show)')
  if (has('bot')) cmd.option('--bot <key>', v.name === 'templates' ? 'only templates published by this key' : v.name === 'balances' ? 'only this key' : 'only this bot (a key, or the first characters the tables show)')
  if (has('bid')) cmd.option('--bid <id>', 'only the trades of this bid')
  if (has('online')) cmd.option('--online', 'only nodes whose signed presence record is on the DHT')
  if (has('all')) cmd.option('--all', 'include withdrawn offers')
  return cmd
}

export function register (market: Command): void {
  for (const v of VIEWS) {
    const cmd = withCommon(market.command(v.name)).summary(v.summary).description(v.description)
    filterOptions(cmd, v.filters, v)
    if (v.name === 'nodes') cmd.option('--timeout <duration>', 'how long one DHT lookup may take', '10s')
    cmd.addHelpText('after', `\n${EXAMPLES[v.name] ?? ''}\n--json prints ${JSON_FIELDS[v.name] ?? 'the rows'}\n(every field: market/EXPLORER.md)`)
    cmd.action(action(async (flags: ExplorerFlags) => {
      const f = parseFilter(flags, v.states)
      const lookupTimeout = flags.timeout !== undefined ? parseDuration(flags.timeout) : undefined
      const config = configFrom(flags)
      const { peer, close } = await openCommandPeer(config, null)
      try {
        const rows = await withSnapshot(peer, view => v.rows({ view, market: peer.key, dht: peer.swarm?.dht ?? null, lookupTimeout }, f))
        output(flags, rows, () => v.render(rows, Date.now()))
      } finally {
        await close()
      }
    }))
  }
}
