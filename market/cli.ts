/** `scit market …`: not built yet (see the project issues). */
import { Command } from 'commander'

export function register (program: Command): void {
  program.command('market')
    .description('explore and serve a market (not yet)')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('scit market: not yet implemented\n')
      process.exitCode = 2
    })
}
