import test from 'brittle'
import path from 'path'
import { execFile } from 'child_process'

const ROOT = path.join(__dirname, '..', '..')
const BRITTLE = path.join(ROOT, 'node_modules', 'brittle', 'brittle-node.js')
// brittle takes globs relative to its cwd, not absolute paths.
const BARE_TESTS = path.relative(ROOT, path.join(__dirname, 'bare.test.js'))

/** brittle on the Bare tests, with a bare binary that does not exist. */
async function withoutBare(
  t: test.Assert,
  env: Record<string, string>
): Promise<{ code: number; stdout: string }> {
  const missing = path.join(await t.tmp(), 'bare')
  return await new Promise((resolve) => {
    execFile(
      process.execPath,
      [BRITTLE, '-t', '120000', BARE_TESTS],
      { cwd: ROOT, env: { ...process.env, SCIT_BARE_BIN: missing, ...env } },
      (err, stdout) => {
        resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout })
      }
    )
  })
}

test('without bare the Bare tests are skipped, said once with why, and the run ends normally', async (t) => {
  const r = await withoutBare(t, { SCIT_REQUIRE_BARE: '' })
  t.is(r.code, 0, 'exit 0')
  t.is(
    r.stdout.split('\n').filter((l) => l.startsWith('# SKIPPING every test that runs scit on Bare'))
      .length,
    1,
    'said once'
  )
  t.ok(/does not run/.test(r.stdout), 'with why')
  t.absent(/^not ok/m.test(r.stdout), 'none failed')
  t.ok(
    /# SKIP/.test(r.stdout) && /^# ok$/m.test(r.stdout),
    'brittle counted them skipped and ended'
  )
})

test('without bare and with SCIT_REQUIRE_BARE=1 (CI), each Bare test fails, and the run still ends normally', async (t) => {
  const r = await withoutBare(t, { SCIT_REQUIRE_BARE: '1' })
  t.is(r.code, 1, 'exit 1')
  t.ok(/^not ok \d+ - scit market stats --json on Bare/m.test(r.stdout), 'the explorer test fails')
  t.absent(/^ok /m.test(r.stdout), 'none passed')
  t.ok(/^# tests = 0\/\d+ pass$/m.test(r.stdout), 'brittle ran every test and counted them')
})
