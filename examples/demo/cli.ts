/**
 * `scit demo`: the whole market in this process on a local testnet, narrated;
 * `--keep` leaves it running. `scit demo stakeholder ROLE` writes an example stakeholder's identity.
 */
import path from 'path'
import { Command } from 'commander'
import { AREAS } from '../../lib/areas'
import { action, output, CommonFlags } from '../../lib/command'
import { ScitError } from '../../lib/errors'
import { importIdentity } from '../../lib/identity'
import { encodeKey } from '../../lib/keys'
import { exampleStakeholder, EXAMPLE_ROLES, ExampleRole } from '../stakeholders'
import type { DemoFlags } from './cmd'

export function register(program: Command): void {
  const demo = program
    .command('demo')
    .description(AREAS.demo.summary)
    .option(
      '--quick',
      'a shorter grace before the dead node is replaced, no pay claims (the test suite uses it); every step still runs'
    )
    .option(
      '--keep',
      'keep the market running after the demo, for scit market … from another terminal (Ctrl-C stops it)'
    )
    .option('--json', 'print a machine-readable summary on stdout (the steps go to stderr)')
    .option(
      '-v, --verbose',
      'show the logs of every peer (twice for debug)',
      (_: string, prev: number) => prev + 1,
      0
    )
    .option(
      '--no-sandbox',
      "run the nodes' workloads without bubblewrap (the default when it is not available)"
    )
    .addHelpText(
      'after',
      '\nEverything runs on 127.0.0.1 in a temp dir that is removed at the end.'
    )
    .action(async (flags: DemoFlags) => {
      // loaded only now: `scit demo --help` need not load the whole market
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { cmdDemo } = require('./cmd') as typeof import('./cmd')
      await cmdDemo(flags)
    })

  demo
    .command('stakeholder')
    .argument('<role>', `one of ${EXAMPLE_ROLES.join(', ')}`)
    .description(
      "write the example stakeholder ROLE's identity into --data, to sign the examples by hand (scit bot sign CONTRACT --data DIR); its seed is public: for trying the examples only"
    )
    .requiredOption('--data <dir>', 'an empty data directory for this stakeholder')
    .option('--json', 'print machine-readable JSON on stdout')
    .action(
      action((role: string, _flags: CommonFlags, cmd: Command) => {
        // `demo` has its own --json: read the flags of both levels
        const flags = cmd.optsWithGlobals<CommonFlags>()
        if (!(EXAMPLE_ROLES as readonly string[]).includes(role))
          throw new ScitError('INVALID_ARGUMENT', `role must be one of ${EXAMPLE_ROLES.join(', ')}`)
        const kp = importIdentity(
          path.resolve(flags.data ?? ''),
          exampleStakeholder(role as ExampleRole)
        )
        const key = encodeKey(kp.publicKey)
        output(
          flags,
          { role, publicKey: key, data: flags.data },
          () =>
            `${flags.data ?? ''} now signs as the example stakeholder ${role} (${key})\nsign a contract: scit bot sign CONTRACT --data ${flags.data ?? ''}`
        )
      })
    )
}
