/**
 * Tests that need bubblewrap. On a machine without it they are skipped, and
 * the run says so once, with how to install it; a test that tried anyway
 * would throw, and a thrown error ends brittle with every later test lost.
 * SCIT_REQUIRE_SANDBOX=1 (CI) makes them mandatory: each fails instead.
 */
import test from 'brittle'
import type { Assert, TestOptions } from 'brittle'
import { sandboxAvailable } from '../../node/sandbox'

const REQUIRED = process.env.SCIT_REQUIRE_SANDBOX === '1'
let said = false

export function sandboxTest(name: string, fn: (t: Assert) => unknown): void
export function sandboxTest(name: string, opts: TestOptions, fn: (t: Assert) => unknown): void
export function sandboxTest(
  name: string,
  a: TestOptions | ((t: Assert) => unknown),
  b?: (t: Assert) => unknown
): void {
  const opts = typeof a === 'function' ? {} : a
  const fn = typeof a === 'function' ? a : (b as (t: Assert) => unknown)
  const sandbox = sandboxAvailable()
  if (sandbox.ok || opts.skip === true) return test(name, opts, fn)
  if (REQUIRED) {
    return test(name, opts, (t) => {
      t.fail(
        `this test needs a working sandbox, and SCIT_REQUIRE_SANDBOX=1 makes it mandatory: ${sandbox.reason ?? ''}`
      )
    })
  }
  if (!said) {
    said = true
    process.stdout.write(
      `# SKIPPING every test that needs the sandbox: ${sandbox.reason ?? ''}. Install it (apt-get install -y bubblewrap) to run them; SCIT_REQUIRE_SANDBOX=1 makes them fail instead\n`
    )
  }
  test(name, { ...opts, skip: true }, fn)
}
