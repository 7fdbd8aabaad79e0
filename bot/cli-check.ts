/** `scit bot template check`: offline, what bot/cli.ts runs for it (loaded only then). */
import { output, CommonFlags } from '../lib/command'
import { ScitError } from '../lib/errors'
import { encodeKey } from '../lib/keys'
import { formatSize } from '../lib/resources'
import { ioOf } from '../lib/io'
import type { Manifest } from '../lib/contract'
import { loadTemplate } from './template'
import { instantiate, Instance } from './manifest'
import { manifestSummary } from './stakeholders'
import { parseSets } from './cli'

export interface CheckFlags extends CommonFlags {
  set?: string[]
}

/** Every file is checked: each refused one gets its own `error CODE: …` on stderr (exit 1), the rest their summary. */
export async function check(files: string[], flags: CheckFlags): Promise<void> {
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
