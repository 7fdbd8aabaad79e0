/** `scit bot …`: `template check` works offline; the rest is in cli-template.ts and cli-commands.ts. */
import { Command } from 'commander'
import { AREAS } from '../lib/areas'
import { withCommon, action } from '../lib/command'
import type { CheckFlags } from './cli-check'
import { ScitError } from '../lib/errors'
import type { ParamValue } from '../lib/contract'
import { register as registerTemplates } from './cli-template'
import { register as registerRun } from './cli-commands'
import { register as registerArchive } from './cli-archive'
import type { Io } from '../lib/io'

function collect(value: string, prev: string[] = []): string[] {
  return [...prev, value]
}

/** Values stay strings: the template knows each parameter's type and converts. */
export function parseSets(sets: string[] = []): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {}
  for (const s of sets) {
    const i = s.indexOf('=')
    if (i <= 0) throw new ScitError('INVALID_ARGUMENT', `--set ${s}: expected name=value`)
    out[s.slice(0, i).trim()] = s.slice(i + 1)
  }
  return out
}

export function servedProgram(io: Io): Command {
  const p = new Command('scit')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: () => {} })
  register(p)
  return p
}

export function register(program: Command): void {
  const bot = program.command('bot').description(AREAS.bot.summary)

  const template = bot.command('template').description('contract templates')
  withCommon(template.command('check').argument('<file...>', 'template files (YAML or JSON)'), {
    market: false
  })
    .description(
      'validate templates, instantiate them with defaults and --set, print each manifest summary and hash'
    )
    .option('--set <name=value>', 'a parameter value (repeatable)', collect, [])
    .action(
      action((files: string[], flags: CheckFlags) =>
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        (require('./cli-check') as typeof import('./cli-check')).check(files, flags)
      )
    )
  registerTemplates(template)
  registerRun(bot, collect, parseSets, servedProgram)
  registerArchive(bot)
}
