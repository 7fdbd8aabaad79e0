/** `scit bot archive put | get | ls | rm | health`: a user's files in an archive contract (docs/ARCHITECTURE.md "Archives"). */
import type { Command } from 'commander'
import { withCommon, output } from '../lib/command'
import { ioOf, resolvePath } from '../lib/io'
import { formatSize } from '../lib/resources'
import type { RunFlags } from './cli-open'
import { botAction as action } from './control'
import type { PutResult } from './archive-put'
import type { Health } from './archive-health'
import type { Progress } from './archive-progress'
import { parseDuration } from '../lib/duration'

/* eslint-disable @typescript-eslint/no-require-imports */
// loaded when a command runs in this process (not for --help, nor for one `scit bot run` serves)
const bots = (): typeof import('./cli-open') => require('./cli-open')
const session = (): typeof import('./archive-session') => require('./archive-session')
const putting = (): typeof import('./archive-put') => require('./archive-put')
const getting = (): typeof import('./archive-get') => require('./archive-get')
const health = (): typeof import('./archive-health') => require('./archive-health')
const progressOf = (): typeof import('./archive-progress') => require('./archive-progress')
/* eslint-enable @typescript-eslint/no-require-imports */

interface ArchiveFlags extends RunFlags {
  as?: string
  out?: string
  force?: boolean
}

/** On a terminal, one line redrawn in place; otherwise (a script, a served command) nothing until the result. */
function progress(flags: ArchiveFlags): ((p: Progress, final: boolean) => void) | undefined {
  const io = ioOf(flags)
  if (flags.json || io.served || !process.stderr.isTTY) return undefined
  return (p, final) => io.err(`\r\x1b[K${progressOf().progressLine(p)}${final ? '\n' : ''}`)
}

const rate = (bytes: number, seconds: number): string =>
  `${formatSize(Math.round(bytes / Math.max(seconds, 0.001)))}/s`

function putLine(r: PutResult, code: string): string {
  const what = r.dir ? `${r.files} files, ${formatSize(r.size)}` : formatSize(r.size)
  const missed =
    r.missed > 0 ? `; ${r.missed} holders missed it and rebuild it from the others` : ''
  const skipped = r.skipped.length > 0 ? `; skipped (not files): ${r.skipped.join(', ')}` : ''
  return `${r.name}: ${what} stored in ${r.seconds.toFixed(1)} s (${rate(r.size, r.seconds)}), encrypted and coded ${code} into ${formatSize(r.stored)} on group ${r.groups.join(', ')}${r.replaced ? ', replacing the entry of that name' : ''}${missed}${skipped}`
}

function healthText(h: Health, name: string): string {
  const lines = [
    `archive ${name} (contract ${h.contract}): ${h.code}, ${h.entries} ${h.entries === 1 ? 'entry' : 'entries'}, ${formatSize(h.stored)} stored of ${formatSize(h.capacity)}`
  ]
  for (const g of h.groups) {
    const lose = g.margin >= 0 ? `can lose ${g.margin} more` : `${-g.margin} short of a read`
    lines.push(
      `group ${g.group}: ${g.whole} of ${g.holders.length} holders hold all of it (${lose})`
    )
    for (const x of g.holders) {
      const held = x.reachable
        ? `holds ${x.held ?? 0} of ${(x.held ?? 0) + (x.missing ?? 0) + (x.rebuilding ?? 0)} segments (${formatSize(x.bytes ?? 0)})${x.rebuilding ? ', rebuilding' : ''}`
        : 'unreachable'
      const proof = x.proof === null ? '' : `  proof ${x.proof}`
      lines.push(
        `  shard ${String(x.shard).padStart(2)}  node ${(x.node ?? '-').slice(0, 8)}  ${held}${proof}`
      )
    }
  }
  if (h.repairs.length > 0)
    for (const r of h.repairs)
      lines.push(
        `repair running: trade ${r.trade} on node ${r.node.slice(0, 8)} rebuilds the shard of ${r.replaces ?? '?'}`
      )
  lines.push(`cost so far ${h.cost.sofar}, now ${h.cost.perHour}/h`)
  return lines.join('\n')
}

export function register(bot: Command): void {
  const archive = bot
    .command('archive')
    .description(
      "a user's files in an archive contract: encrypted, erasure-coded, proved, repaired"
    )

  withCommon(
    archive
      .command('put')
      .argument('<contract>', 'the archive (id, core key or a prefix)')
      .argument('<path...>', 'files or directories, each stored as one entry')
  )
    .description(
      'store files and directories: encrypted here, coded and sent to the holders; each path is one entry, named by its base name'
    )
    .option('--as <name>', 'the name of the entry (one path only)')
    .option('--force', 'replace an entry of the same name (once the new one is stored)')
    .option('--timeout <duration>', 'how long to wait for the holders to answer', '10s')
    .addHelpText(
      'after',
      '\nExamples:\n  scit bot archive put archive-x1 ./photos\n  scit bot archive put archive-x1 report.pdf --as report-2026.pdf --json'
    )
    .action(
      action(async (ref: string, paths: string[], flags: ArchiveFlags) => {
        const io = ioOf(flags)
        const plans = putting().scanAll(
          paths.map((p) => resolvePath(io, p)),
          flags.as
        )
        await bots().withBot(flags, async (b) => {
          const s = await session().ArchiveSession.open(b, ref)
          const out = await putting().put(s, plans, {
            as: flags.as,
            force: flags.force,
            progress: progress(flags)
          })
          output(flags, out, () =>
            out.map((r) => putLine(r, `${s.code.data}+${s.code.parity}`)).join('\n')
          )
        })
      })
    )

  withCommon(
    archive
      .command('get')
      .argument(
        '<contract>',
        'the archive (id or core key: with identity.json alone, the core key)'
      )
      .argument('<name>', 'the entry')
  )
    .description(
      'get an entry back byte for byte, from the first holders of each group that answer; every file decrypted and its hash checked'
    )
    .option('--out <path>', 'where to write it (default: ./NAME)')
    .option('--force', 'replace what is at the destination')
    .option('--timeout <duration>', 'how long to wait for the holders to answer', '10s')
    .addHelpText(
      'after',
      '\nExamples:\n  scit bot archive get archive-x1 photos --out ./restored\n  scit bot archive get k3x9… photos --data ./fresh   # a new machine: only identity.json copied into ./fresh'
    )
    .action(
      action(async (ref: string, name: string, flags: ArchiveFlags) => {
        const out = resolvePath(ioOf(flags), flags.out ?? name)
        getting().destination(name, { out, force: flags.force })
        await bots().withBot(flags, async (b) => {
          const s = await session().ArchiveSession.open(b, ref)
          const r = await getting().get(s, name, {
            out,
            force: flags.force,
            reach: parseDuration(flags.timeout ?? '10s'),
            progress: progress(flags),
            notice: (text) => b.progress('verify', text)
          })
          output(
            flags,
            r,
            () =>
              `${r.name} → ${r.out}: ${r.dir ? `${r.files} files, ` : ''}${formatSize(r.size)} in ${r.seconds.toFixed(1)} s (${rate(r.size, r.seconds)}), every file's hash checked`
          )
        })
      })
    )

  withCommon(archive.command('ls').argument('<contract>', 'the archive'))
    .description('the entries: names, sizes, hashes (BLAKE2b-256), dates')
    .action(
      action(async (ref: string, flags: ArchiveFlags) => {
        await bots().withBot(flags, async (b) => {
          const rows = await health().ls(await session().ArchiveSession.open(b, ref))
          output(flags, rows, () =>
            rows.length === 0
              ? 'empty (scit bot archive put CONTRACT PATH)'
              : rows
                  .map(
                    (r) =>
                      `${r.name}${r.dir ? '/' : ''}  ${formatSize(r.size)}  ${r.dir ? `${r.files} files  ` : ''}${r.hash.slice(0, 16)}  ${r.created}`
                  )
                  .join('\n')
          )
        })
      })
    )

  withCommon(
    archive.command('rm').argument('<contract>', 'the archive').argument('<name>', 'the entry')
  )
    .description('remove an entry: its holders delete its shards and the room is free again')
    .action(
      action(async (ref: string, name: string, flags: ArchiveFlags) => {
        await bots().withBot(flags, async (b) => {
          const r = await health().rm(await session().ArchiveSession.open(b, ref), name)
          output(flags, r, () => `removed ${r.name}: its holders free ${formatSize(r.freed)}`)
        })
      })
    )

  withCommon(archive.command('health').argument('<contract>', 'the archive'))
    .description(
      'each group: its holders, what each holds, a storage proof asked now, repairs running, and the cost so far'
    )
    .action(
      action(async (ref: string, flags: ArchiveFlags) => {
        await bots().withBot(flags, async (b) => {
          const s = await session().ArchiveSession.open(b, ref)
          const h = await health().health(s)
          output(flags, h, () => healthText(h, s.name))
        })
      })
    )
}
