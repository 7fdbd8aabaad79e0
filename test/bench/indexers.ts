/**
 * Indexer processes for the ledger and market benchmarks: each runs test/bench/ledger-indexer.ts (as on its own
 * machine), driven over IPC. `startIndexers` creates a market on the first and votes the others in.
 */
import path from 'path'
import { fork, ChildProcess } from 'child_process'
import type { Testnet } from '../../lib/testnet'
import type { Command, Reply } from './ledger-indexer'
import { cpuProfFlags } from './profile-window'

export type Stats = Extract<Reply, { kind: 'stats' }>

export class Indexer {
  readonly ready: Promise<Extract<Reply, { kind: 'ready' }>>
  private waiting: Array<(r: Reply) => void> = []

  constructor(readonly child: ChildProcess) {
    this.ready = this.next('ready') as Promise<Extract<Reply, { kind: 'ready' }>>
    child.on('message', (r: Reply) => {
      const waiting = this.waiting
      this.waiting = []
      for (const w of waiting) w(r)
    })
  }

  static start(net: Testnet, market: string | null, env: NodeJS.ProcessEnv = {}): Indexer {
    const boot = net.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
    return new Indexer(
      fork(
        path.join(__dirname, 'ledger-indexer.js'),
        [boot, ...(market !== null ? [market] : [])],
        {
          env: { ...process.env, ...env },
          // CPU_PROF=<dir>: a V8 CPU profile of each indexer, written on exit; INDEXER_FLAGS: more node flags.
          execArgv: [
            ...cpuProfFlags(),
            ...(process.env.INDEXER_FLAGS ?? '').split(' ').filter((f) => f !== '')
          ]
        }
      )
    )
  }

  private ids = 0

  /** The reply of kind `kind` to command `id` (a reply without an id, 'ready' or a fatal error, to anyone). */
  private next(kind: Reply['kind'], id?: number): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const take = (r: Reply): void => {
        const ours = r.id === undefined || r.id === id
        if (ours && r.kind === 'error') reject(new Error(r.message))
        else if (ours && r.kind === kind) resolve(r)
        else this.waiting.push(take)
      }
      this.waiting.push(take)
    })
  }

  async run(c: Command, reply: Reply['kind'] = 'done'): Promise<Reply> {
    const id = ++this.ids
    const r = this.next(reply, id)
    this.child.send({ ...c, id })
    return r
  }

  async stats(): Promise<Stats> {
    return (await this.run({ cmd: 'stats' }, 'stats')) as Stats
  }

  /** Each op's ms at each stage on this indexer (market/timeline.ts STAGES). */
  async timeline(): Promise<Map<string, number[]>> {
    const r = (await this.run({ cmd: 'timeline' }, 'timeline')) as Extract<
      Reply,
      { kind: 'timeline' }
    >
    return new Map(r.ops)
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    this.child.send({ cmd: 'close' })
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
}

/** `n` indexer processes of a new market; resolves with the market key once all are indexers. */
export async function startIndexers(
  net: Testnet,
  n: number,
  into: Indexer[],
  env: NodeJS.ProcessEnv = {}
): Promise<string> {
  const first = Indexer.start(net, null, env)
  into.push(first)
  const { market } = await first.ready
  for (let i = 1; i < n; i++) into.push(Indexer.start(net, market, env))
  // A joiner is an indexer once a strict majority of the current indexers voted for it.
  for (let i = 1; i < n; i++) {
    const joiner = into[i]
    const { identity, writer } = await joiner.ready
    for (const v of into.slice(0, i)) await v.run({ cmd: 'vote', identity, writer })
    await joiner.run({ cmd: 'await-indexer' })
  }
  return market
}

/** Stop every indexer, even if some never started. */
export async function closeIndexers(indexers: Indexer[]): Promise<void> {
  await Promise.all(indexers.map((i) => i.close()))
}
