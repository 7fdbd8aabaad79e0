import test from 'brittle'
import fs from 'fs'
import path from 'path'
import { execFile } from 'child_process'
import { promisify } from 'util'

const run = promisify(execFile)
const SCIT = path.join(__dirname, '..', 'lib', 'cli.js')

test('scit --help lists every sub-command', async t => {
  const { stdout } = await run(process.execPath, [SCIT, '--help'])
  for (const cmd of ['node', 'bot', 'market', 'demo', 'id']) t.ok(new RegExp(`^\\s+${cmd}\\b`, 'm').test(stdout), cmd)
})

test('scit id creates an identity with mode 0600 and prints it, also as JSON', async t => {
  const data = path.join(await t.tmp(), 'fresh')
  const first = await run(process.execPath, [SCIT, 'id', '--data', data])
  t.ok(/^[a-z0-9]{52}\n$/.test(first.stdout), 'a z32 key')
  t.is(fs.statSync(path.join(data, 'identity.json')).mode & 0o777, 0o600)
  const json = JSON.parse((await run(process.execPath, [SCIT, 'id', '--data', data, '--json'])).stdout)
  t.is(json.publicKey, first.stdout.trim(), 'stable across runs')
})

test('a bad flag value exits 1 with a coded error and no stack', async t => {
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
