/** `scit market web`: follow the market and serve its page on loopback until SIGINT or SIGTERM. */
import type { Command } from 'commander'
import { withCommon, configFrom, action, untilSignal, CommonFlags } from '../../lib/command'
import { encodeKey } from '../../lib/keys'
import { openCommandPeer } from '../cli-peer'
import { parseListen } from './guard'
import { WebServer } from './server'

export const DEFAULT_LISTEN = '127.0.0.1:8420'

export function registerWeb(market: Command): void {
  withCommon(market.command('web'))
    .summary('a live dashboard of the market in your browser, on this machine only')
    .description(
      "follow the market (no replay: the indexers' signed view, read sparsely) and serve a read-only page on loopback: overview, traded prices over time and book depth, nodes with filters and uptime, contracts and trades, updated live. Prints its URL. The page, its script and uPlot come from this package; requests whose Host or Origin is not loopback are refused. Its JSON API (/api/NAME) answers what scit market NAME --json prints"
    )
    .option(
      '--listen <host:port>',
      'a loopback address to serve on (port 0: any free one)',
      DEFAULT_LISTEN
    )
    .addHelpText(
      'after',
      '\nExamples:\n  scit market web                            # then open the URL it prints\n  scit market web --listen 127.0.0.1:0 --json  # {"url": …, "market": …} on one line\n\nAPI: /api/overview, /api/prices?range=7d, /api/nodes?country=CH&min-cpu=2, /api/node/KEY, /api/offers, /api/trades?all=1, /api/contracts, /api/contract/KEY, /api/stats …; /api/events is the live stream (server-sent events)'
    )
    .action(
      action(async (flags: CommonFlags & { listen?: string }) => {
        const listen = parseListen(flags.listen ?? DEFAULT_LISTEN)
        const { peer, close } = await openCommandPeer(configFrom(flags), null)
        const web = new WebServer({ peer, host: listen.host, port: listen.port })
        try {
          await web.ready()
          const market = encodeKey(peer.key)
          process.stdout.write(
            flags.json === true
              ? JSON.stringify({ url: web.url, market }) + '\n'
              : `scit market web: ${web.url}  (market ${market}; read-only, this machine only; Ctrl-C stops)\n`
          )
          await untilSignal()
        } finally {
          await web.close()
          await close()
        }
      })
    )
}
