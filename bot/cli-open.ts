/**
 * How a `scit bot` command gets its bot: the one a `scit bot run` serves it
 * from (bot/control.ts), or, with none running, this process opens the data
 * dir for the length of the command. RocksDB locks a data dir to one
 * process: a second one-shot command is told who holds it (BUSY).
 */
import { configFrom, holder, CommonFlags } from '../lib/command'
import { requireMarket } from '../lib/config'
import { ScitError } from '../lib/errors'
import { encodeKey } from '../lib/keys'
import { ioOf, Io } from '../lib/io'
import { parseDuration } from '../lib/duration'
import { Bot } from './bot'
import type { Progress } from './trader'
import { servedBot } from './control'
import { BotState, type DeploymentRecord } from './records'
import { requirePhase, isOver, Command } from './phase'
import safetyCatch from 'safety-catch'

/** A running `scit bot run`'s: takes over a deployment a served command left unfinished. */
export const carriers = new WeakMap<Bot, (d: DeploymentRecord) => void>()

/**
 * After a command `scit bot run` served: what it left unfinished (a deploy
 * waiting for its stakeholders, a stop cut short) is bot run's to finish, as it
 * finishes what it finds at start. Outside bot run, the next one does.
 */
export function handOver(bot: Bot, d: DeploymentRecord): void {
  if (isOver(d) || (d.phase === 'running' && d.stopping === undefined)) return
  carriers.get(bot)?.(d)
}

export interface RunFlags extends CommonFlags {
  dryRun?: boolean
  set?: string[]
  id?: string
  wait?: string
  yes?: boolean
  role?: string
  follow?: boolean
  workload?: string
  grace?: string
  interval?: string
  startWithin?: string
  renewBefore?: string
  approvals?: boolean
  tail?: string
  timeout?: string
  out?: string
}

/** A command's progress lines, on its stderr: `→ settle      trade …`. */
export function progressTo(io: Io): (step: string, detail: string) => void {
  return (step, detail) => io.err(`→ ${step.padEnd(11)} ${detail}\n`)
}

/** Open the bot of --data on --market in this process; BUSY, with who holds it, when another process does. */
export async function openBot(
  flags: RunFlags,
  progress?: Progress,
  wait?: { joinTimeout: number; signal: AbortSignal; opening?: (bot: Bot) => void }
): Promise<Bot> {
  const config = configFrom(flags)
  const monitor = {
    ...(flags.grace ? { grace: parseDuration(flags.grace) } : {}),
    ...(flags.interval ? { interval: parseDuration(flags.interval) } : {}),
    ...(flags.startWithin ? { startWithin: parseDuration(flags.startWithin) } : {}),
    ...(flags.renewBefore
      ? { renewBefore: flags.renewBefore === '0' ? 0 : parseDuration(flags.renewBefore) }
      : {})
  }
  const bot = new Bot({
    data: config.data,
    market: requireMarket(config),
    bootstrap: config.bootstrap,
    monitor,
    progress,
    joinTimeout: wait?.joinTimeout ?? config.joinTimeout
  })
  wait?.opening?.(bot)
  const cancel = (): void => void bot.cancelJoin().catch(safetyCatch)
  wait?.signal.addEventListener('abort', cancel)
  try {
    await bot.ready()
  } catch (err) {
    await bot.close().catch(safetyCatch)
    if (/lock/i.test((err as Error).message)) {
      const pid = holder(config.data)
      throw new ScitError(
        'BUSY',
        `the bot in ${config.data} is open in another scit bot command${pid === null ? '' : ` (pid ${pid})`} until it ends: wait for it, or keep \`scit bot run\` running, which serves every scit bot command of its data dir at once`
      )
    }
    throw err
  } finally {
    wait?.signal.removeEventListener('abort', cancel)
  }
  return bot
}

/** A served command's --data and --market must be its bot's. */
function check(bot: Bot, flags: RunFlags): void {
  const config = configFrom(flags)
  if (config.market !== null && !config.market.equals(bot.opts.market))
    throw new ScitError(
      'INVALID_CONFIG',
      `the bot in ${config.data} runs (scit bot run) on market ${encodeKey(bot.opts.market)}, not ${encodeKey(config.market)}: a bot keeps to one market; give this one its own --data`
    )
}

/**
 * Run `fn` with the bot: the served one, or one opened here and closed after.
 * Ctrl-C closes a bot opened here (what it was doing resumes under `scit bot run`).
 */
export async function withBot<T>(flags: RunFlags, fn: (bot: Bot) => Promise<T>): Promise<T> {
  const served = servedBot(flags)
  if (served !== null) {
    check(served, flags)
    return await fn(served)
  }
  const bot = await openBot(flags)
  const signal = ioOf(flags).signal
  const stop = (): void => void bot.close().catch(safetyCatch)
  signal.addEventListener('abort', stop, { once: true })
  try {
    return await fn(bot)
  } finally {
    signal.removeEventListener('abort', stop)
    await bot.close()
  }
}

/**
 * The served bot, or one opened here; null when another one-shot command
 * holds the data dir (the state file still says what it recorded).
 */
export async function withBotIfFree<T>(
  flags: RunFlags,
  fn: (bot: Bot | null, state: BotState) => Promise<T>
): Promise<T> {
  const served = servedBot(flags)
  if (served !== null) {
    check(served, flags)
    return await fn(served, served.state)
  }
  let bot: Bot | null = null
  try {
    bot = await openBot(flags)
  } catch (err) {
    if ((err as ScitError).code !== 'BUSY') throw err
  }
  try {
    return await fn(bot, bot?.state ?? new BotState(configFrom(flags).data).load())
  } finally {
    await bot?.close()
  }
}

/**
 * Refuse from the state file, before the bot opens (no network, nothing
 * bought), what makes no sense in the contract's phase; the command checks
 * again once it holds the bot.
 */
export function precheck(flags: RunFlags, ref: string, cmd: Command): void {
  requirePhase(known(flags, ref), cmd)
}

/** The deployment `ref` names, from the state file before the bot opens: an unknown one is NOT_FOUND without the network. */
export function known(flags: RunFlags, ref: string): DeploymentRecord {
  const state = servedBot(flags)?.state ?? new BotState(configFrom(flags).data).load()
  return state.find(ref)
}
