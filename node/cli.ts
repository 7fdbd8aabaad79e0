/** `scit node …`: not built yet (see the project issues). */
import { Command } from 'commander'

export function register (program: Command): void {
  program.command('node')
    .description('run a 3node: sell capacity, run contracts (not yet)')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('scit node: not yet implemented\n')
      process.exitCode = 2
    })
}
