/**
 * Tests that drive a real browser: Debian's chromium (SCIT_CHROMIUM picks another binary) through playwright-core,
 * which never downloads one. Where chromium is missing they are skipped, and each file says so once;
 * SCIT_REQUIRE_BROWSER=1 (CI) makes each fail instead.
 */
import fs from 'fs'
import test from 'brittle'
import type { Assert, TestOptions } from 'brittle'
import type { Browser } from 'playwright-core'

const REQUIRED = process.env.SCIT_REQUIRE_BROWSER === '1'
export const CHROMIUM = process.env.SCIT_CHROMIUM ?? '/usr/bin/chromium'
/** No sandbox of its own (tests run as root), nothing fetched from the network. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
]

function missing(): string | null {
  if (!fs.existsSync(CHROMIUM))
    return `no chromium at ${CHROMIUM} (apt-get install -y chromium, or SCIT_CHROMIUM=/path/to/chromium)`
  try {
    require.resolve('playwright-core')
  } catch {
    return 'playwright-core is not installed (npm install)'
  }
  return null
}

const WHY = missing()
let said = false

/** A headless chromium, closed at teardown. */
export async function browser(t: Assert): Promise<Browser> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { chromium } = require('playwright-core') as typeof import('playwright-core')
  const b = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  t.teardown(() => b.close())
  return b
}

export function browserTest(name: string, opts: TestOptions, fn: (t: Assert) => unknown): void {
  if (WHY === null || opts.skip === true) return test(name, opts, fn)
  if (REQUIRED)
    return test(name, opts, (t) => {
      t.fail(`this test needs a browser, and SCIT_REQUIRE_BROWSER=1 makes it mandatory: ${WHY}`)
    })
  if (!said) {
    said = true
    process.stdout.write(
      `# SKIPPING every test that needs a browser: ${WHY}; SCIT_REQUIRE_BROWSER=1 makes them fail instead\n`
    )
  }
  test(name, { ...opts, skip: true }, fn)
}
