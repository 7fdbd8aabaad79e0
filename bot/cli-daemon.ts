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
import { stallIsAnError } from '../lib/stall'
import { resumeUntilDone } from './deployment'
import { ControlServer } from './control'
import { isOver } from './phase'
import { openBot, carriers, RunFlags } from './cli-open'
import type { DeploymentRecord } from './records'
import type { Bot } from './bot'

export async function cmdRun(flags: RunFlags, program: (io: Io) => Command): Promise<void> {
  const io = ioOf(flags)
  configFrom(flags) // -v
  const event = eventPrinter((text) => io.out(text), flags.json === true)
  // A daemon outlives a market that is slow to answer (the node does too): it waits, saying so, until told to stop.
  const signal = io.signal // read once: a process's is made anew after it fired
  let bot: Bot
  let opening: Bot | null = null
  const disarm = stallIsAnError('scit bot run', () => opening?.step ?? 'opening its data dir')
  try {
    bot = await openBot(flags, event, {
      joinTimeout: Infinity,
      signal,
      opening: (b) => (opening = b)
    })
  } catch (err) {
    if (!signal.aborted) throw err
    event('stopped', 'told to stop while it waited for its market')
    return
  } finally {
    disarm() // a start that fails says why itself
  }
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
  const driving = new Set<string>()
  const drive = (d: DeploymentRecord): void => {
    if (driving.has(d.id)) return
    driving.add(d.id)
    resumeUntilDone(bot, d)
      .catch((err) => {
        if (!isScitError(err, 'CLOSED')) event('error', `${d.id}: ${(err as Error).message}`, d.id)
      })
      .finally(() => driving.delete(d.id))
  }
  const live = bot.state.deployments.filter((d) => !isOver(d))
  for (const d of live) drive(d)
  // what a served command left to the stakeholders (deploy --no-approvals) is deployed here once they signed
  carriers.set(bot, drive)
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
