/**
 * scit's top-level commands as `scit --help` lists them. lib/cli.ts loads a
 * command's modules only when it runs, and lists the others from here; each
 * command's own register() takes its text from here too, so both agree.
 */
export const AREAS = {
  node: {
    term: 'node',
    summary: "run a 3node: sell this machine's capacity, run the contracts bought from it"
  },
  bot: {
    term: 'bot',
    summary: 'run a 3bot: templates, trading, deployment, stakeholder sign-off, self-healing'
  },
  market: {
    term: 'market',
    summary: 'create, serve and explore a market (the order book of 3nodes and 3bots)'
  },
  connect: {
    term: 'connect [options] <contract> [service]',
    summary:
      "open a local TCP port that carries each connection, encrypted, to a live replica of a contract's service (as this --data identity: the contract must allow it). Only the server keys that the nodes holding the contract's live trades in the market name in their signed status cores are dialled"
  },
  demo: {
    term: 'demo [options]',
    summary:
      "run a whole market on a local DHT testnet, in one process: indexers, nodes, a bot deploying the examples, self-healing; ends with the explorer's tables"
  },
  dht: {
    term: 'dht [options]',
    summary: 'run the bootstrap of a private DHT (a market with no internet)'
  }
} as const

export type Area = keyof typeof AREAS
