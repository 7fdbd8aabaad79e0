/**
 * What every `scit` sub-command shares: the common flags, turning them into a
 * Config, printing (`--json` or human text), and exiting with a clear message
 * on a ScitError instead of a stack trace.
 */
import { Command } from 'commander'
import { resolveConfig, Config, ConfigFlags } from './config'
import { ScitError } from './errors'
import { setLevel } from './log'

export interface CommonFlags extends ConfigFlags { json?: boolean; verbose?: number }

/** Add --data, --bootstrap, --market (when `market`), --json, --verbose to a command. */
export function withCommon (cmd: Command, opts: { market?: boolean } = {}): Command {
  cmd.option('--data <dir>', 'data directory (env SCIT_DATA; default ~/.scit)')
  cmd.option('--bootstrap <host:port,...>', 'DHT bootstrap nodes (env SCIT_BOOTSTRAP; default: the public HyperDHT)')
  if (opts.market !== false) cmd.option('--market <key>', 'market key (env SCIT_MARKET, or "market" in <data>/config.json)')
  cmd.option('--json', 'print machine-readable JSON on stdout')
  cmd.option('-v, --verbose', 'log more to stderr (twice for debug)', (_: string, prev: number) => prev + 1, 0)
  return cmd
}

export function configFrom (flags: CommonFlags): Config {
  if (flags.verbose) setLevel(flags.verbose > 1 ? 'debug' : 'info')
  return resolveConfig(flags)
}

/** Print `value` as JSON when --json, else the human text. */
export function output (flags: CommonFlags, value: unknown, human: () => string): void {
  process.stdout.write((flags.json ? JSON.stringify(value, null, 2) : human()) + '\n')
}

/** Wrap an action: ScitErrors print `error CODE: message` and exit 1; anything else is a bug and shows its stack. */
export function action<A extends unknown[]> (fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args)
    } catch (err) {
      if (err instanceof ScitError) {
        process.stderr.write(`error ${err.code}: ${err.message}\n`)
        process.exitCode = 1
      } else {
        throw err
      }
    }
  }
}

/** Resolve when the process is asked to stop (SIGINT or SIGTERM). */
export function untilSignal (): Promise<NodeJS.Signals> {
  return new Promise(resolve => {
    const done = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', done)
      process.off('SIGTERM', done)
      resolve(sig)
    }
    process.on('SIGINT', done)
    process.on('SIGTERM', done)
  })
}
