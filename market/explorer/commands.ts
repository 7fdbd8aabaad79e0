/** The explorer's commands, one per list view (views.ts), plus `contract ID` and `watch`; with no identity, they never write. */
import { Command, Option } from 'commander'
import { withCommon, configFrom, output, action, untilSignal, CommonFlags } from '../../lib/command'
import { ScitError } from '../../lib/errors'
import { openCommandPeer } from '../cli-peer'
import { parseDuration } from '../../lib/duration'
import { parseFilter, parseKeyMatch, FilterFlags } from './filters'
import { VIEWS, ListView, FilterName, withCheckout, findView, contextOf } from './views'
import { contractDetail } from './contract'
import { renderContract } from './render'
import { watch } from './watch'
import { JSON_FIELDS, EXAMPLES, UNITS } from './help'

export interface ExplorerFlags extends CommonFlags, FilterFlags {
  timeout?: string
  interval?: string
  lines?: string
}

export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v]
}

/** `v` tailors the flags' help. */
export function filterOptions(
  cmd: Command,
  names: readonly FilterName[],
  v: Partial<ListView> = {}
): Command {
  const has = (n: FilterName): boolean => names.includes(n)
  if (has('country'))
    cmd.option(
      '--country <CC>',
      v.name === 'bids'
        ? 'only bids that may be placed in this country (ISO 3166 alpha-2)'
        : 'only nodes in this country (ISO 3166 alpha-2)'
    )
  if (has('min')) {
    const what = v.name === 'bids' ? 'asking at least this per replica' : 'with at least this free'
    cmd.option(
      '--min-cpu <cores>',
      `only ${v.name ?? 'rows'} ${what}: cores (2, 0.5) or millicores (500m)`
    )
    cmd.option('--min-memory <size>', `only ${v.name ?? 'rows'} ${what} memory, e.g. 4GiB`)
    cmd.option('--min-ssd <size>', `only ${v.name ?? 'rows'} ${what} ssd, e.g. 100GiB`)
  }
  if (has('attr')) {
    cmd.option(
      '--attr <name,...>',
      v.name === 'bids'
        ? 'only bids that require these attributes (repeatable)'
        : 'only nodes with every one of these attributes (repeatable)',
      collect
    )
    cmd.addOption(new Option('--attribute <name>', 'same as --attr').argParser(collect).hideHelp())
  }
  if (has('maxPrice'))
    cmd.option(
      '--max-price <n>',
      v.maxPrice ?? "at most this price per hour, in the market's smallest unit"
    )
  if (has('state') && v.states)
    cmd.option('--state <state>', `only in this state (${v.states.join(', ')})`)
  if (has('node'))
    cmd.option('--node <key>', 'only this node (a key, or the first characters the tables show)')
  if (has('bot'))
    cmd.option(
      '--bot <key>',
      v.name === 'templates'
        ? 'only templates published by this key'
        : v.name === 'balances'
          ? 'only this key'
          : 'only this bot (a key, or the first characters the tables show)'
    )
  if (has('bid')) cmd.option('--bid <id>', 'only the trades of this bid')
  if (has('online')) cmd.option('--online', 'only nodes whose signed presence record is on the DHT')
  if (has('all'))
    cmd.option(
      '--all',
      v.name === 'nodes' || v.name === 'offers'
        ? 'include withdrawn offers, and offers their node stopped renewing (lapsed)'
        : `the market's whole history too (without it, and without --state: live ${v.name} only)`
    )
  return cmd
}

export function register(market: Command): void {
  for (const v of VIEWS) {
    const cmd = withCommon(market.command(v.name)).summary(v.summary).description(v.description)
    filterOptions(cmd, v.filters, v)
    if (v.name === 'nodes')
      cmd.option('--timeout <duration>', 'how long one DHT lookup may take', '10s')
    cmd.addHelpText(
      'after',
      `\n${EXAMPLES[v.name] ?? ''}\n\n--json prints ${JSON_FIELDS[v.name] ?? 'the rows'}\n${UNITS}\n(every field: market/EXPLORER.md)`
    )
    cmd.action(
      action(async (flags: ExplorerFlags) => {
        const f = parseFilter(flags, v.states)
        const lookupTimeout = flags.timeout !== undefined ? parseDuration(flags.timeout) : undefined
        const config = configFrom(flags)
        const { peer, close } = await openCommandPeer(config, null)
        try {
          const rows = await withCheckout(peer, (view) =>
            v.rows(contextOf(peer, view, { lookupTimeout }), f)
          )
          output(flags, rows, () => v.render(rows, Date.now()))
        } finally {
          await close()
        }
      })
    )
  }
}

export function registerContract(market: Command): void {
  withCommon(
    market
      .command('contract')
      .argument(
        '<id>',
        'the contract core key, or its first characters as `scit market contracts` shows them'
      )
  )
    .summary('one contract: manifest, approvals, replicas, workload state, logs')
    .description(
      "one contract, verified: the manifest in force (name, version, workloads, resources, placement), stakeholders and the approval weight reached, and per replica its trade, node, lease state, the workload state from the node's signed status core and its last log lines. Reads the contract core from its bot or its nodes and each node's status and log cores; what does not verify is shown as unverified, never as fact"
    )
    .option(
      '--timeout <duration>',
      "how long to wait for each core (the contract's, each node's)",
      '15s'
    )
    .option('--lines <n>', 'log lines to show per replica', '10')
    .addHelpText(
      'after',
      `\n${EXAMPLES.contract}\n\n--json prints ${JSON_FIELDS.contract}\n${UNITS}\n(every field: market/EXPLORER.md)`
    )
    .action(
      action(async (id: string, flags: ExplorerFlags) => {
        const ref = parseKeyMatch(id, 'CONTRACT')
        const timeout = parseDuration(flags.timeout ?? '15s')
        const lines = Number(flags.lines ?? '10')
        if (!Number.isSafeInteger(lines) || lines < 0)
          throw new ScitError(
            'INVALID_ARGUMENT',
            `--lines: "${flags.lines ?? ''}" is not a number of lines`
          )
        const { peer, close } = await openCommandPeer(configFrom(flags), null)
        try {
          const d = await contractDetail(peer, ref, id, {
            timeout,
            lines,
            dht: peer.swarm?.dht ?? null
          })
          output(flags, d, () => renderContract(d))
        } finally {
          await close()
        }
      })
    )
}

export function registerWatch(market: Command): void {
  const cmd = withCommon(
    market
      .command('watch')
      .argument(
        '[view]',
        `what to watch: summary (default) or one of ${VIEWS.map((v) => v.name).join(', ')}`
      )
  )
    .summary('a live view that refreshes in place')
    .description(
      'a live view of the market: redrawn in place on a terminal (one block per refresh otherwise) on every market update and every --interval; the filters of the view apply; SIGINT or SIGTERM stop it'
    )
    .option('--interval <duration>', 'redraw at least this often', '5s')
    .option('--count <n>', 'stop after this many refreshes')
  filterOptions(
    cmd,
    ['country', 'min', 'attr', 'maxPrice', 'state', 'node', 'bot', 'bid', 'online', 'all'],
    { states: ['see scit market VIEW --help'] }
  )
  cmd.addHelpText(
    'after',
    `\nThe filters are the view's own (scit market VIEW --help); the summary takes none.\n\n${EXAMPLES.watch}\n\n--json prints ${JSON_FIELDS.watch}`
  )
  cmd.action(
    action(async (name: string | undefined, flags: ExplorerFlags & { count?: string }) => {
      const v = name === undefined || name === 'summary' ? null : findView(name)
      if (v === undefined)
        throw new ScitError(
          'INVALID_ARGUMENT',
          `"${name ?? ''}" is not a view: summary, ${VIEWS.map((x) => x.name).join(', ')}`
        )
      const given = FILTER_FLAGS.filter(([, keys]) => keys.some((k) => flags[k] !== undefined))
      const stray = given.find(([n]) => v === null || !v.filters.includes(n))
      if (stray !== undefined)
        throw new ScitError(
          'INVALID_ARGUMENT',
          `--${stray[2]} does not apply to ${v?.name ?? 'the summary'}${v ? ` (it takes ${v.filters.map((f) => FILTER_FLAGS.find((x) => x[0] === f)?.[2]).join(', ') || 'no filters'})` : ''}`
        )
      const filter = parseFilter(flags, v?.states)
      const interval = parseDuration(flags.interval ?? '5s')
      const count = flags.count === undefined ? undefined : Number(flags.count)
      if (count !== undefined && (!Number.isSafeInteger(count) || count < 1))
        throw new ScitError(
          'INVALID_ARGUMENT',
          `--count: "${flags.count ?? ''}" is not a positive number`
        )
      const { peer, close } = await openCommandPeer(configFrom(flags), null)
      const stop = new AbortController()
      untilSignal().then(
        () => stop.abort(),
        () => {}
      )
      try {
        await watch(peer, {
          view: v,
          filter,
          dht: peer.swarm?.dht ?? null,
          interval,
          json: flags.json === true,
          count,
          signal: stop.signal
        })
      } finally {
        stop.abort()
        await close()
      }
    })
  )
}

/** Each filter's flag fields, and the flag name for messages. */
const FILTER_FLAGS: Array<[FilterName, Array<keyof FilterFlags>, string]> = [
  ['country', ['country'], 'country'],
  ['min', ['minCpu', 'minMemory', 'minSsd'], 'min-cpu/--min-memory/--min-ssd'],
  ['attr', ['attr', 'attribute'], 'attr'],
  ['maxPrice', ['maxPrice'], 'max-price'],
  ['state', ['state'], 'state'],
  ['node', ['node'], 'node'],
  ['bot', ['bot'], 'bot'],
  ['bid', ['bid'], 'bid'],
  ['online', ['online'], 'online'],
  ['all', ['all'], 'all']
]
