import test from 'brittle'
import fs from 'fs'
import path from 'path'
import { execFile } from 'child_process'

const ROOT = path.join(__dirname, '..', '..')
const BRITTLE = path.join(ROOT, 'node_modules', 'brittle', 'brittle-node.js')
// brittle takes globs relative to its cwd, not absolute paths.
const SANDBOX_TESTS = path.relative(ROOT, path.join(__dirname, 'node-sandbox.test.js'))

/** brittle on the sandbox tests, on a PATH where bwrap is not found (only node is). */
async function withoutBwrap(
  t: test.Assert,
  env: Record<string, string> = {}
): Promise<{ code: number; stdout: string }> {
  const bin = await t.tmp()
  fs.symlinkSync(process.execPath, path.join(bin, 'node'))
  return await new Promise((resolve) => {
    execFile(
      process.execPath,
      [BRITTLE, '-t', '120000', SANDBOX_TESTS],
      { cwd: ROOT, env: { ...process.env, PATH: bin, ...env } },
      (err, stdout) => {
        resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout })
      }
    )
  })
}

test('without bubblewrap the sandbox tests are skipped, said once with how to install it, and the run ends normally', async (t) => {
  const r = await withoutBwrap(t, { SCIT_REQUIRE_SANDBOX: '' })
  t.is(r.code, 0, 'exit 0')
  t.is(r.stdout.split('\n').filter((l) => l.startsWith('# SKIPPING')).length, 1, 'said once')
  t.ok(r.stdout.includes('apt-get install -y bubblewrap'), 'with how to install it')
  t.ok(
    /# SKIP/.test(r.stdout) && /^# ok$/m.test(r.stdout),
    'brittle counted them skipped and ended'
  )
  t.ok(
    /^ok \d+ - cpu pinning takes whole cpus from the last one # time/m.test(r.stdout),
    'a test that needs no sandbox still ran'
  )
})

test('without bubblewrap and with SCIT_REQUIRE_SANDBOX=1, the sandbox tests fail, and the run still ends normally', async (t) => {
  const r = await withoutBwrap(t, { SCIT_REQUIRE_SANDBOX: '1' })
  t.is(r.code, 1, 'exit 1')
  t.ok(
    /^not ok \d+ - bubblewrap is available and can build a sandbox here/m.test(r.stdout),
    'each one fails'
  )
  t.ok(/^# tests = 1\/12 pass$/m.test(r.stdout), 'brittle ran every test and counted them')
})
