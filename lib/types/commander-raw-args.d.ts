// commander keeps the argv it parsed on the root command (Command.rawArgs) without declaring it;
// bot/control.ts hands that argv to the `scit bot run` that serves the command.
import 'commander'

declare module 'commander' {
  interface Command {
    rawArgs: string[]
  }
}
