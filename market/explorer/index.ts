/**
 * The market explorer, `scit market …` (read-only: it replicates the market
 * view and never writes). The list views are in views.ts (rows in model.ts,
 * tables in render.ts), `contract ID` in contract.ts, `watch` in watch.ts;
 * `summaryTables` is what the demo prints at its end. JSON fields: EXPLORER.md.
 */
import type { Command } from 'commander'
import { register as registerViews, registerContract, registerWatch } from './commands'

export { summaryTables } from './summary'

export function register (market: Command): void {
  registerViews(market)
  registerContract(market)
  registerWatch(market)
}
