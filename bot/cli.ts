/** `scit bot …`: `template check` works offline; the rest is in cli-template.ts and cli-commands.ts. */
import { Command } from 'commander'
import { withCommon, output, action, CommonFlags } from '../lib/command'
import { ScitError } from '../lib/errors'
import { encodeKey } from '../lib/keys'
import { formatSize } from '../lib/resources'
import { loadTemplate } from './template'
import { instantiate, Instance } from './manifest'
import { manifestSummary } from './stakeholders'
import type { ParamValue, Manifest } from '../lib/contract'
import { register as registerTemplates } from './cli-template'
import { register as registerRun } from './cli-commands'
import { register as registerArchive } from './cli-archive'
import { ioOf, type Io } from '../lib/io'

interface CheckFlags extends CommonFlags {
  set?: string[]
}

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

/** Every file is checked: each refused one gets its own `error CODE: …` on stderr (exit 1), the rest their summary. */
async function check(files: string[], flags: CheckFlags): Promise<void> {
  const results: Array<{ file: string; inst: Instance }> = []
  const sets = parseSets(flags.set)
  const refused: ScitError[] = []
  for (const file of files) {
    try {
      results.push({ file, inst: await instantiate(loadTemplate(file), sets) })
    } catch (err) {
      if (!(err instanceof ScitError)) throw err
      refused.push(err)
    }
  }
  const io = ioOf(flags)
  for (const err of refused) io.err(`error ${err.code}: ${err.message}\n`)
  if (refused.length) io.exit(1)
  if (results.length === 0) return
  output(
    flags,
    results.map(({ file, inst }) => jsonOf(file, inst.manifest, inst.hash)),
    () =>
      results.map(({ file, inst }) => `${file}: ok\n${manifestSummary(inst.manifest)}`).join('\n\n')
  )
}

function jsonOf(file: string, m: Manifest, hash: Buffer): object {
  return {
    file,
    manifestHash: hash.toString('hex'),
    manifest: {
      ...m,
      workloads: m.workloads.map((w) => ({
        ...w,
        files: w.files.map((f) => ({ path: f.path, size: f.size, hash: f.hash.toString('hex') })),
        mirror: w.mirror && {
          size: w.mirror.size,
          human: formatSize(w.mirror.size),
          source: w.mirror.source && encodeKey(w.mirror.source)
        },
        archive: w.archive && { ...w.archive, human: formatSize(w.archive.size) }
      })),
      stakeholders: {
        threshold: m.stakeholders.threshold,
        signers: m.stakeholders.signers.map((s) => ({ ...s, key: encodeKey(s.key) }))
      }
    }
  }
}

/** The command tree a served command runs in (bot/control.ts): `scit bot …`, printing to `io`. */
export function servedProgram(io: Io): Command {
  const p = new Command('scit')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: () => {} })
  register(p)
  return p
}

export function register(program: Command): void {
  const bot = program
    .command('bot')
    .description('run a 3bot: templates, trading, deployment, stakeholder sign-off, self-healing')

  const template = bot.command('template').description('contract templates')
  withCommon(template.command('check').argument('<file...>', 'template files (YAML or JSON)'), {
    market: false
  })
    .description(
      'validate templates, instantiate them with defaults and --set, print each manifest summary and hash'
    )
    .option('--set <name=value>', 'a parameter value (repeatable)', collect, [])
    .action(action((files: string[], flags: CheckFlags) => check(files, flags)))
  registerTemplates(template)
  registerRun(bot, collect, parseSets, servedProgram)
  registerArchive(bot)
}
