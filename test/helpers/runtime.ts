/**
 * scit as a process on either runtime (Node, or Bare through bin/scit-bare.js),
 * and tests that need Bare. Where bare is missing they are skipped, and each
 * file of them says so once; SCIT_REQUIRE_BARE=1 (CI) makes each fail instead.
 */
import path from 'path'
import { execFile, spawnSync } from 'child_process'
import test from 'brittle'
import type { Assert, TestOptions } from 'brittle'
import type { Runtime } from '../../lib/runtime'
import { sandboxTest } from './sandbox'

/** The CLI entries built next to the tests: dist/lib/cli.js for Node, bin/scit-bare.js (which loads dist/) for Bare. */
export const SCIT = path.join(__dirname, '..', '..', 'lib', 'cli.js')
export const SCIT_BARE = path.join(__dirname, '..', '..', '..', 'bin', 'scit-bare.js')

const REQUIRED = process.env.SCIT_REQUIRE_BARE === '1'

/** The bare binary (SCIT_BARE_BIN, else the bare-runtime devDependency's), or why there is none that runs here. */
function findBare(): { bin: string | null; reason: string | null } {
  let bin = process.env.SCIT_BARE_BIN ?? ''
  if (bin === '') {
    try {
      // Loaded here, not imported: without it the tests say why, instead of this file failing to load.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      bin = (require('bare-runtime') as typeof import('bare-runtime'))()
    } catch (err) {
      return { bin: null, reason: `bare-runtime is not installed (${(err as Error).message})` }
    }
  }
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' })
  if (r.status !== 0)
    return { bin: null, reason: `${bin} does not run (${r.error?.message ?? r.stderr.trim()})` }
  return { bin, reason: null }
}

export const BARE = findBare()

/** The argv that runs `scit` on `runtime` (before scit's own arguments). */
export function scitArgv(runtime: Runtime = 'node'): string[] {
  if (runtime === 'node') return [process.execPath, SCIT]
  if (BARE.bin === null) throw new Error(`no bare here: ${BARE.reason ?? ''}`)
  return [BARE.bin, SCIT_BARE]
}

export interface Run {
  code: number
  stdout: string
  stderr: string
}

/** A command still running after this is killed: its test fails with what it printed, the run goes on. */
const HUNG = 90_000

/** Run `scit ARGS` to its end on `runtime`; never throws on a non-zero exit. */
export function runScit(runtime: Runtime, args: string[]): Promise<Run> {
  const [file, ...pre] = scitArgv(runtime)
  return new Promise((resolve) => {
    execFile(
      file,
      [...pre, ...args],
      { timeout: HUNG, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const hung = err !== null && (err as { killed?: boolean }).killed === true
        const code = err === null ? 0 : Number((err as { code?: number }).code ?? 1)
        resolve({
          code,
          stdout,
          stderr: hung ? `${stderr}\n(killed: still running after ${HUNG} ms)` : stderr
        })
      }
    )
  })
}

let said = false

export interface BareTestOptions extends TestOptions {
  /** It needs the sandbox too (helpers/sandbox decides, once Bare is there). */
  sandbox?: boolean
}

export function bareTest(name: string, fn: (t: Assert) => unknown): void
export function bareTest(name: string, opts: BareTestOptions, fn: (t: Assert) => unknown): void
export function bareTest(
  name: string,
  a: BareTestOptions | ((t: Assert) => unknown),
  b?: (t: Assert) => unknown
): void {
  const { sandbox = false, ...opts } = typeof a === 'function' ? {} : a
  const fn = typeof a === 'function' ? a : (b as (t: Assert) => unknown)
  if (BARE.bin !== null || opts.skip === true)
    return sandbox ? sandboxTest(name, opts, fn) : test(name, opts, fn)
  if (REQUIRED) {
    return test(name, opts, (t) => {
      t.fail(
        `this test needs Bare, and SCIT_REQUIRE_BARE=1 makes it mandatory: ${BARE.reason ?? ''}`
      )
    })
  }
  if (!said) {
    said = true
    process.stdout.write(
      `# SKIPPING every test that runs scit on Bare: ${BARE.reason ?? ''}. npm install brings bare (the bare-runtime devDependency); SCIT_REQUIRE_BARE=1 makes them fail instead\n`
    )
  }
  test(name, { ...opts, skip: true }, fn)
}
