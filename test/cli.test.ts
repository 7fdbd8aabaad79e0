import test from 'brittle'
import fs from 'fs'
import path from 'path'
import { execFile, spawn } from 'child_process'
import { promisify } from 'util'
import { spawnNode, stopNode } from './helpers/node-process'
import { endChild, tieToRunner } from './helpers/child'
import { explain } from '../lib/command'

const run = promisify(execFile)
const SCIT = path.join(__dirname, '..', 'lib', 'cli.js')
const KEY = 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy'

test('scit --help lists every sub-command', async (t) => {
  const { stdout } = await run(process.execPath, [SCIT, '--help'])
  for (const cmd of ['node', 'bot', 'market', 'demo', 'id'])
    t.ok(new RegExp(`^\\s+${cmd}\\b`, 'm').test(stdout), cmd)
})

test('scit id creates an identity with mode 0600 and prints it, also as JSON', async (t) => {
  const data = path.join(await t.tmp(), 'fresh')
  const first = await run(process.execPath, [SCIT, 'id', '--data', data])
  t.ok(/^[a-z0-9]{52}\n$/.test(first.stdout), 'a z32 key')
  t.is(fs.statSync(path.join(data, 'identity.json')).mode & 0o777, 0o600)
  const json = JSON.parse(
    (await run(process.execPath, [SCIT, 'id', '--data', data, '--json'])).stdout
  )
  t.is(json.publicKey, first.stdout.trim(), 'stable across runs')
})

test('a bad flag value exits 1 with a coded error and no stack', async (t) => {
  try {
    await run(process.execPath, [SCIT, 'id', '--data', await t.tmp(), '--bootstrap', 'nope'])
    t.fail('exited 0')
  } catch (err) {
    const e = err as { code: number; stderr: string }
    t.is(e.code, 1)
    t.ok(e.stderr.startsWith('error INVALID_CONFIG:'), e.stderr)
    t.absent(/\n\s+at /.test(e.stderr), 'no stack trace')
  }
})

/** Run scit, expecting it to fail: its exit code and stderr. */
async function failing(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, [SCIT, ...args])
  } catch (err) {
    const e = err as { code: number; stderr: string }
    return { code: e.code, stderr: e.stderr }
  }
  throw new Error(`scit ${args.join(' ')} exited 0`)
}

test("usage mistakes, commander's and scit's own, go out as INVALID_ARGUMENT with the command's --help, no stack", async (t) => {
  const tmp = await t.tmp()
  const cases: Array<[string[], RegExp]> = [
    [
      ['nope'],
      /^error INVALID_ARGUMENT: unknown command 'nope'( \(Did you mean \w+\?\))?; see scit --help\n$/
    ],
    [
      ['node', 'start', '--bogus'],
      /^error INVALID_ARGUMENT: unknown option '--bogus'; see scit node start --help\n$/
    ],
    [
      ['bot', 'deploy'],
      /^error INVALID_ARGUMENT: missing required argument 'template'; see scit bot deploy --help\n$/
    ],
    [['bot'], /\nerror INVALID_ARGUMENT: scit bot needs a sub-command \(listed above\)\n$/],
    [
      ['bot', 'deploy', 'x.yaml', '--wait', 'up', '--data', tmp, '--market', KEY],
      /^error INVALID_ARGUMENT: --wait "up": the one state to wait for is "running"\n$/
    ]
  ]
  for (const [args, expected] of cases) {
    const e = await failing(args)
    t.is(e.code, 1, `scit ${args.join(' ')}: exit 1`)
    t.ok(expected.test(e.stderr), e.stderr)
    t.absent(/\n\s+at /.test(e.stderr), 'no stack trace')
  }
})

test('a data dir copied from elsewhere is INVALID_CONFIG with the fix, no stack', async (t) => {
  const dir = await t.tmp()
  await run(process.execPath, [
    SCIT,
    'market',
    'create',
    '--data',
    path.join(dir, 'm'),
    '--bootstrap',
    '127.0.0.1:1'
  ])
  fs.cpSync(path.join(dir, 'm'), path.join(dir, 'copy'), { recursive: true })
  const e = await failing([
    'market',
    'info',
    '--data',
    path.join(dir, 'copy'),
    '--bootstrap',
    '127.0.0.1:1'
  ])
  t.is(e.code, 1)
  t.ok(
    e.stderr.startsWith(
      `error INVALID_CONFIG: this data dir ${path.join(dir, 'copy')} was copied or moved from elsewhere`
    ),
    e.stderr
  )
  t.ok(e.stderr.includes('copy only identity.json'), 'with the fix')
  t.absent(/\n\s+at /.test(e.stderr), 'no stack trace')
})

test('a store damaged on disk (found by the soak) is CORRUPT with the fix, no stack, and is not read on', async (t) => {
  const dir = await t.tmp()
  const data = path.join(dir, 'm')
  await run(process.execPath, [
    SCIT,
    'market',
    'create',
    '--data',
    data,
    '--bootstrap',
    '127.0.0.1:1'
  ])
  // a torn write in RocksDB's manifest, as a crash or a failing disk leaves it
  const db = path.join(data, 'market', 'db')
  const manifest = path.join(db, fs.readdirSync(db).find((f) => f.startsWith('MANIFEST-')) ?? '')
  const bytes = fs.readFileSync(manifest)
  for (let i = bytes.length >> 1; i < (bytes.length >> 1) + 16 && i < bytes.length; i++)
    bytes[i] ^= 0xff
  fs.writeFileSync(manifest, bytes)
  const e = await failing(['market', 'info', '--data', data, '--bootstrap', '127.0.0.1:1'])
  t.is(e.code, 1)
  t.ok(
    e.stderr.startsWith(`error CORRUPT: a store in this data dir ${data} is damaged on disk (`),
    e.stderr
  )
  t.ok(e.stderr.includes(`Move ${path.join(data, 'market')} aside`), 'with the fix')
  t.absent(/\n\s+at /.test(e.stderr), 'no stack trace')
})

test('a write refused after a compaction found a damaged table (found by the soak) is CORRUPT, naming the table', async (t) => {
  // RocksDB opens a store with a damaged table; the compaction that reads it stops every write, and only its LOG
  // says why (this LOG line is the one the soak's node left)
  const data = await t.tmp()
  const db = path.join(data, 'corestore', 'db')
  fs.mkdirSync(db, { recursive: true })
  const table = path.join(db, '000014.sst')
  fs.writeFileSync(
    path.join(db, 'LOG'),
    `2026/12/06-20:22:18.794545 5973 [WARN] [db/error_handler.cc:399] Background IO error Corruption: block checksum mismatch: stored(context removed) = 1141382366, computed = 3951202150, type = 4  in ${table} offset 32349 size 8178, reason 1\n`
  )
  const e = explain(new Error('Batch was not applied'), data)
  t.is(e?.code, 'CORRUPT')
  t.ok(e?.message.includes(`block checksum mismatch`) && e.message.includes(table), e?.message)
  t.ok(e?.message.includes(`Move ${path.join(data, 'corestore')} aside`), 'with the fix')
  t.is(
    explain(new Error('Batch was not applied'), await t.tmp()),
    null,
    'with no corruption logged, not CORRUPT'
  )
})

test(
  'scit bot run waits for a market that is away, saying so, and stops when told: exit 0, not TIMEOUT (found by the soak)',
  { timeout: 90_000 },
  async (t) => {
    const data = path.join(await t.tmp(), 'b')
    const child = tieToRunner(
      spawn(
        process.execPath,
        [SCIT, 'bot', 'run', '--data', data, '--market', KEY, '--bootstrap', '127.0.0.1:1'],
        {
          stdio: ['ignore', 'pipe', 'pipe']
        }
      )
    )
    t.teardown(() => endChild(child, 'SIGKILL'))
    let stderr = ''
    await new Promise<void>((resolve) => {
      child.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString()
        if (/waiting for market \S+ \(\d+ s\)/.test(stderr)) resolve()
      })
    })
    // a one-shot command gives up after 30 s (TIMEOUT); bot run says it waits, with no end
    t.is(child.exitCode, null, 'bot run waits for its market, saying so')
    const exit = await endChild(child, 'SIGTERM')
    t.is(exit.code, 0, 'and SIGTERM ends it, exit 0')
    t.absent(/error TIMEOUT/.test(stderr), 'no TIMEOUT')
    t.absent(/\n\s+at /.test(stderr), 'no stack trace')
  }
)

test(
  'a bot that cannot reach its market ends with TIMEOUT and exit 1; a node waits for it, saying so, and stops when told: nothing they opened keeps them alive',
  { timeout: 90_000 },
  async (t) => {
    const tmp = await t.tmp()
    const offline = ['--market', KEY, '--bootstrap', '127.0.0.1:1']
    // --unsafe-no-sandbox: the join is what is checked here, with or without bubblewrap
    const node = spawnNode(t, ['--data', path.join(tmp, 'n'), '--unsafe-no-sandbox', ...offline])
    // --join-timeout 5s, not the default 30 s: that it gives up is what is checked, not when
    const bot = await failing([
      'bot',
      'status',
      '--data',
      path.join(tmp, 'b'),
      '--join-timeout',
      '5s',
      ...offline
    ])
    t.is(bot.code, 1, 'bot status: exit 1')
    t.ok(/^error TIMEOUT: no peer of market \S+ showed its view/m.test(bot.stderr), bot.stderr)
    t.absent(/close after a failed start/.test(bot.stderr), 'no warning about its own close')
    t.absent(/\n\s+at /.test(bot.stderr), 'no stack trace')

    await new Promise<void>((resolve) => {
      const seen = (): void => {
        if (/waiting for market \S+ \(\d+ s\)/.test(node.stderr())) resolve()
      }
      node.child.stderr?.on('data', seen)
      seen()
    })
    t.is(node.child.exitCode, null, 'node start waits for its market, saying so')
    const exit = await stopNode(node)
    t.is(exit.code, 0, 'and SIGTERM ends it, exit 0')
    t.absent(/\n\s+at /.test(node.stderr()), 'no stack trace')
  }
)
