/**
 * `scit bot …`. `template check` works offline; the sub-commands that need
 * the market client (deploy, sign, approvals, status, …) are declared so the
 * command tree is in place, and exit 2 until the market client lands.
 */
import { Command } from 'commander'
import { withCommon, output, action, CommonFlags } from '../lib/command'
import { ScitError } from '../lib/errors'
import { encodeKey } from '../lib/keys'
import { formatSize } from '../lib/resources'
import { loadTemplate } from './template'
import { instantiate, Instance } from './manifest'
import { manifestSummary } from './stakeholders'
import type { ParamValue, Manifest } from '../lib/contract'

interface CheckFlags extends CommonFlags { set?: string[] }

function collect (value: string, prev: string[] = []): string[] {
  return [...prev, value]
}

/** `--set users=100` → { users: "100" }: the template knows each parameter's type and converts. */
export function parseSets (sets: string[] = []): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {}
  for (const s of sets) {
    const i = s.indexOf('=')
    if (i <= 0) throw new ScitError('INVALID_ARGUMENT', `--set ${s}: expected name=value`)
    out[s.slice(0, i).trim()] = s.slice(i + 1)
  }
  return out
}

async function check (files: string[], flags: CheckFlags): Promise<void> {
  const results: Array<{ file: string, inst: Instance }> = []
  for (const file of files) {
    const inst = await instantiate(loadTemplate(file), parseSets(flags.set))
    results.push({ file, inst })
  }
  output(flags, results.map(({ file, inst }) => jsonOf(file, inst.manifest, inst.hash)), () =>
    results.map(({ file, inst }) => `${file}: ok\n${manifestSummary(inst.manifest)}`).join('\n\n'))
}

function jsonOf (file: string, m: Manifest, hash: Buffer): object {
  return {
    file,
    manifestHash: hash.toString('hex'),
    manifest: {
      ...m,
      workloads: m.workloads.map(w => ({
        ...w,
        files: w.files.map(f => ({ path: f.path, size: f.size, hash: f.hash.toString('hex') })),
        archive: w.archive && { size: w.archive.size, human: formatSize(w.archive.size), source: w.archive.source && encodeKey(w.archive.source) }
      })),
      stakeholders: { threshold: m.stakeholders.threshold, signers: m.stakeholders.signers.map(s => ({ ...s, key: encodeKey(s.key) })) }
    }
  }
}

function notYet (name: string): () => void {
  return () => {
    process.stderr.write(`scit bot ${name}: not yet (needs the market client)\n`)
    process.exitCode = 2
  }
}

export function register (program: Command): void {
  const bot = program.command('bot').description('run a 3bot: templates, trading, deployment, stakeholder sign-off')

  const template = bot.command('template').description('contract templates')
  withCommon(template.command('check').argument('<file...>', 'template files (YAML or JSON)'), { market: false })
    .description('validate templates, instantiate them with defaults and --set, print each manifest summary and hash')
    .option('--set <name=value>', 'a parameter value (repeatable)', collect, [])
    .action(action((files: string[], flags: CheckFlags) => check(files, flags)))
  for (const [name, desc] of [['publish', 'sign a template and publish it on the market'], ['list', 'templates on the market'], ['show', 'one template on the market']]) {
    withCommon(template.command(name).description(`${desc} (not yet)`).allowUnknownOption().allowExcessArguments()).action(notYet(`template ${name}`))
  }

  const later: Array<[string, string]> = [
    ['deploy', 'instantiate a template, buy capacity, write the contract core'],
    ['sign', 'review a contract\'s manifest and sign it as a stakeholder'],
    ['approvals', 'who signed a contract and the weight reached'],
    ['status', 'contracts and their replicas'],
    ['logs', 'a contract\'s workload logs'],
    ['scale', 'change a contract\'s replica count'],
    ['update', 'a new manifest version for a running contract'],
    ['stop', 'stop a contract: close leases, refund'],
    ['run', 'keep the bot running: monitor, heal, renew']
  ]
  for (const [name, desc] of later) {
    withCommon(bot.command(name).description(`${desc} (not yet)`).allowUnknownOption().allowExcessArguments()).action(notYet(name))
  }
}
