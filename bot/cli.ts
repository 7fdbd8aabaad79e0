/** `scit bot …`: not built yet (see the project issues). */
import { Command } from 'commander'

export function register (program: Command): void {
  program.command('bot')
    .description('run a 3bot: templates, trading, deployment (not yet)')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('scit bot: not yet implemented\n')
      process.exitCode = 2
    })
}
