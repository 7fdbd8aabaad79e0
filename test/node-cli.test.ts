import test from 'brittle'
import path from 'path'
import { execFile } from 'child_process'
import { promisify } from 'util'

const run = promisify(execFile)
const SCIT = path.join(__dirname, '..', 'lib', 'cli.js')
const KEY = 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy'

test('scit node start --help documents every flag of the issue', async t => {
  const { stdout } = await run(process.execPath, [SCIT, 'node', 'start', '--help'])
  for (const flag of ['--data', '--market', '--bootstrap', '--cpu', '--memory', '--ssd', '--hdd', '--country', '--city', '--attr', '--price-cpu', '--price-memory', '--price-ssd', '--unsafe-no-sandbox', '--workloads', '--claim-interval']) {
    t.ok(stdout.includes(flag), flag)
  }
})

test('scit node start refuses capacity the machine does not have, before joining anything', async t => {
  try {
    await run(process.execPath, [SCIT, 'node', 'start', '--data', await t.tmp(), '--market', KEY, '--cpu', '4096'])
    t.fail('started')
  } catch (err) {
    const e = err as { code: number, stderr: string }
    t.is(e.code, 1)
    t.ok(/^error CAPACITY: --cpu 4096/m.test(e.stderr), e.stderr)
  }
})

test('scit node status shows identity, capacity and workloads of a stopped node', async t => {
  const data = await t.tmp()
  const id = (await run(process.execPath, [SCIT, 'id', '--data', data])).stdout.trim()
  const s = JSON.parse((await run(process.execPath, [SCIT, 'node', 'status', '--data', data, '--json'])).stdout)
  t.is(s.key, id)
  t.is(s.running, false)
  t.ok(s.sellable.cpu > 0 && s.sellable.memory > 0)
  t.alike(s.workloads, [])
  const human = (await run(process.execPath, [SCIT, 'node', 'status', '--data', data])).stdout
  t.ok(human.includes(id) && human.includes('sellable'), human)
})
