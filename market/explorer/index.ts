/** The market explorer, `scit market …`: read-only, it replicates the market view and never writes. */
import type { Command } from 'commander'
import { register as registerViews, registerContract, registerWatch } from './commands'
import { registerTrends } from './trends-commands'
import { registerWeb } from '../web/cli'

export { summaryTables } from './summary'

export function register(market: Command): void {
  registerViews(market)
  registerContract(market)
  registerWatch(market)
  registerTrends(market)
  registerWeb(market)
}
