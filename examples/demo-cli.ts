/** \`scit demo\`: not built yet (see the project issues). */
import { Command } from 'commander'

export function register (program: Command): void {
  program.command('demo')
    .description('run a whole market on a local DHT testnet, in one process (not yet)')
    .action(() => {
      process.stderr.write('scit demo: not yet implemented\n')
      process.exitCode = 2
    })
}
