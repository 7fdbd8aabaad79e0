/** What `scit demo` runs (examples/demo/cli.ts registers it; this loads only when it runs). */
import fs from 'fs'
import path from 'path'
import { untilSignal } from '../../lib/command'
import { ScitError } from '../../lib/errors'
import { loadIdentity } from '../../lib/identity'
import { WebServer } from '../../market/web/server'
import { summaryTables } from '../../market/explorer/summary'
import { Reporter } from './report'
import { runDemo, DemoSummary } from './script'
import { FUNDS } from './setup'
import { EXAMPLES } from './stage'
import type { DemoWorld } from './world'
import safetyCatch from 'safety-catch'

export interface DemoFlags {
  quick?: boolean
  keep?: boolean
  json?: boolean
  verbose: number
  sandbox?: boolean
}

export async function cmdDemo(flags: DemoFlags): Promise<void> {
  const out = flags.json === true ? process.stderr : process.stdout
  const r = new Reporter({ out, verbose: flags.verbose })
  r.captureLogs()
  let world: DemoWorld | null = null
  let interrupted = false
  const oninterrupt = (): void => {
    interrupted = true
    r.fail('interrupted: stopping everything')
    world?.close().catch(safetyCatch)
  }
  const onrejection = (err: unknown): void => {
    r.log(`unhandled rejection: ${(err as Error)?.message ?? String(err)}`)
  }
  process.once('SIGINT', oninterrupt)
  process.once('SIGTERM', oninterrupt)
  process.on('unhandledRejection', onrejection)
  let code = 0
  try {
    r.heading(
      'scit demo: a peer-to-peer market for compute and storage, whole, in this process (127.0.0.1 only)'
    )
    const run = await runDemo({
      reporter: r,
      quick: flags.quick,
      sandbox: flags.sandbox === false ? false : undefined,
      onWorld: (w) => {
        world = w
      }
    })
    world = run.world
    await finish(r, run.world, run.summary, flags)
    if (flags.keep === true && !interrupted) {
      process.off('SIGINT', oninterrupt)
      process.off('SIGTERM', oninterrupt)
      const web = await keepHelp(r, run.world, run.summary)
      try {
        await untilSignal()
      } finally {
        await web.close()
      }
      r.block('')
    }
  } catch (err) {
    code = interrupted ? 130 : 1
    if (!interrupted) {
      r.fail(
        `the demo failed: ${(err as Error).message}${err instanceof ScitError && err.code !== 'DEMO' ? ` [${err.code}]` : ''}`
      )
      if (flags.verbose === 0) {
        const logs = r.recentLogs()
        if (logs.length > 0)
          r.block(
            [
              '    last log lines (run with -v to see them all):',
              ...logs.map((l) => `      ${l}`)
            ].join('\n')
          )
      }
    }
  } finally {
    r.wait('stopping the bot, the nodes, the indexers and the testnet; removing the temp dir')
    const failed = world === null ? [] : await (world as DemoWorld).close()
    for (const f of failed) r.log(`cleanup: ${f}`)
    r.block(
      failed.length > 0
        ? `temp dir removed; ${failed.length} part(s) did not close cleanly (-v shows which)`
        : code === 0
          ? 'stopped; nothing left behind'
          : 'cleaned up'
    )
    process.off('SIGINT', oninterrupt)
    process.off('SIGTERM', oninterrupt)
    r.release()
    process.off('unhandledRejection', onrejection)
    process.exitCode = code
    // should some handle still hold the loop, do not hang the user's terminal
    setTimeout(() => process.exit(code), 3000).unref()
  }
}

async function finish(
  r: Reporter,
  world: DemoWorld,
  summary: DemoSummary,
  flags: DemoFlags
): Promise<void> {
  r.wait('reading the market as the explorer does')
  const tables = await summaryTables(world.founder, { dht: world.dht(), contracts: true })
  r.block('')
  r.block('What the explorer shows (scit market watch):')
  r.block('')
  r.block(tables)
  r.block('')
  r.block(
    `demo complete in ${summary.seconds.toFixed(1)}s: 3 indexers, 10 nodes, 4 contracts deployed by a bot, 2 nodes lost, a CRM healed and an archive shard rebuilt, money conserved`
  )
  if (flags.json === true) process.stdout.write(JSON.stringify(summary, null, 2) + '\n')
}

/** What to run from another terminal while the demo is kept. */
async function keepHelp(r: Reporter, world: DemoWorld, summary: DemoSummary): Promise<WebServer> {
  const yours = world.dir('your-bot')
  await world.fund(loadIdentity(yours).publicKey, FUNDS)
  // The page of `scit market web`, served here over the founder's view, so the market is one click away.
  const web = new WebServer({ peer: world.founder, port: 0 })
  await web.ready()
  const scit = invocation()
  const net = `--market ${summary.market.key} --bootstrap ${world.bootstrap}`
  const explorer = `${net} --data ${world.dir('explorer')}`
  r.block(
    [
      '',
      `The market keeps running. From another terminal${scit.relative ? ` (in ${process.cwd()})` : ''}:`,
      '',
      `  ${scit.command} market watch ${explorer}`,
      `  ${scit.command} market contract ${summary.crm.contract} ${explorer}`,
      '',
      `See it in a browser: ${web.url}  (or serve it yourself: ${scit.command} market web ${explorer})`,
      '',
      `Deploy an example with a bot of your own (funded with ${FUNDS.toLocaleString('en-US')}; examples/README.md has them all):`,
      '',
      `  ${scit.command} bot deploy ${here(path.join(EXAMPLES, 'ai-mining.yaml'))} --set workers=1 --wait running --data ${yours} ${net}`,
      '',
      'The bot keeps watching its nodes and healing. Ctrl-C here stops everything and removes the temp dir.'
    ].join('\n')
  )
  return web
}

/** How to run this scit again: `scit` when that on the PATH is this one (npm link, npm install -g .), else `node dist/lib/cli.js`. */
function invocation(): { command: string; relative: boolean } {
  const script = process.argv[1] ?? ''
  if (!script.endsWith('cli.js') || onPath(script)) return { command: 'scit', relative: false }
  const rel = here(script)
  return { command: `node ${rel}`, relative: !path.isAbsolute(rel) }
}

function onPath(script: string): boolean {
  const real = (file: string): string | null => {
    try {
      return fs.realpathSync(file)
    } catch {
      return null
    }
  }
  const self = real(script)
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .some((dir) => dir !== '' && real(path.join(dir, 'scit')) === self)
}

function here(file: string): string {
  const rel = path.relative(process.cwd(), file)
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel
}
