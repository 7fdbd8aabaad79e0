/**
 * `scit bot run`: the bot as a daemon. It owns the data dir, resumes what
 * was left unfinished, watches and heals, and serves every other `scit bot …`
 * command of its data dir over the control socket (bot/control.ts). On
 * stdout, one line per event (a heal, a renewal, a signature collected, a
 * lease that ended, a job's exit …), `--json`: one JSON object per line;
 * `-v` adds each command it served and the bot's own log on stderr.
 */
import type { Command } from 'commander'
import { configFrom } from '../lib/command'
import { isScitError } from '../lib/errors'
import { aborted, ioOf, Io } from '../lib/io'
import { eventPrinter } from '../lib/events'
import { resumeUntilDone } from './deployment'
import { ControlServer } from './control'
import { isOver } from './phase'
import { openBot, RunFlags } from './cli-open'

export async function cmdRun(flags: RunFlags, program: (io: Io) => Command): Promise<void> {
  const io = ioOf(flags)
  configFrom(flags) // -v
  const event = eventPrinter((text) => io.out(text), flags.json === true)
  const bot = await openBot(flags, event)
  const server = new ControlServer(bot, {
    program,
    served: (argv, code, ms) => {
      if ((flags.verbose ?? 0) > 0)
        event('served', `scit ${argv.join(' ')}: exit ${code} in ${(ms / 1000).toFixed(1)}s`)
    }
  })
  try {
    await server.listen()
  } catch (err) {
    await bot.close()
    throw err
  }
  const live = bot.state.deployments.filter((d) => !isOver(d))
  for (const d of live)
    resumeUntilDone(bot, d).catch((err) => {
      if (!isScitError(err, 'CLOSED')) event('error', `${d.id}: ${(err as Error).message}`, d.id)
    })
  bot.monitor.start()
  event(
    'run',
    `bot ${bot.key} watching ${live.length} contracts; serving scit bot commands of ${bot.opts.data} on ${server.file}; Ctrl-C stops it`
  )
  await aborted(io.signal)
  server.stop()
  await bot.close()
  await server.drained()
  event('stopped', `bot ${bot.key}`)
}
