/** What every part of the demo's script shares: the world, the bot, the reporter, the pace. */
import path from 'path'
import { ScitError } from '../../lib/errors'
import { raceTimeout, TIMED_OUT } from '../../lib/timeout'
import type { Bot } from '../../bot/bot'
import type { DeploymentRecord } from '../../bot/records'
import type { DemoWorld } from './world'
import type { Reporter } from './report'

/** From any build dir: tsc compiles code, the templates stay in place. */
export const EXAMPLES = path.join(__dirname, '..', '..', '..', 'examples')

export interface Stage {
  world: DemoWorld
  bot: Bot
  r: Reporter
  quick: boolean
  /** ms before the demo gives up with a clear message. */
  patience: number
}

export function nodeName(s: Stage, key: string): string {
  return s.world.byKey(key)?.spec.name ?? key.slice(0, 8)
}

/** Resolve when the bot's progress events report `step`. */
export function reached(
  bot: Bot,
  step: string,
  match: (detail: string) => boolean = () => true
): Promise<string> {
  return new Promise((resolve) => {
    const on = (st: string, detail: string): void => {
      if (st !== step || !match(detail)) return
      bot.events.off('progress', on)
      resolve(detail)
    }
    bot.events.on('progress', on)
  })
}

/** Reject with a TIMEOUT naming `what` when `p` takes longer than the stage's patience. */
export async function within<T>(s: Stage, what: string, p: Promise<T>): Promise<T> {
  const r = await raceTimeout(p, s.patience)
  if (r === TIMED_OUT)
    throw new ScitError('TIMEOUT', `${what} took longer than ${s.patience / 1000}s`)
  return r
}

export function live(d: DeploymentRecord): DeploymentRecord['trades'] {
  return d.trades.filter((t) => t.phase === 'settled')
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}
