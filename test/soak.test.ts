/**
 * The soak can fail (test/soak/): run on an engine with one rule removed, it reports the broken invariant with
 * the seed that replays it. The soak's own runs (npm run soak, .ci/run) are not part of npm test.
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { spawn } from 'child_process'
import { sandboxTest } from './helpers/sandbox'

const SOAK = path.join(__dirname, 'soak', 'soak.js')

function soak(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SOAK, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
      if (process.env.SCIT_TEST_ECHO) process.stderr.write(d)
    })
    child.once('exit', (code) => resolve({ code, stderr }))
  })
}

sandboxTest(
  'the soak reports a settle that takes no escrow from the bot, with its seed',
  { timeout: 600_000 },
  async (t) => {
    // A small cast, no planned fault: the first settle (a CRM's) creates money, and the checker must say so.
    // A failed soak keeps its dir for a look: this one is expected to fail, so it goes with the test.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-soak-broken-'))
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
    const r = await soak([
      '--dir',
      dir,
      '--broken',
      'escrow-debit',
      '--seed',
      '2727',
      '--minutes',
      '1',
      '--only',
      '0',
      '--nodes',
      '2',
      '--bots',
      '1',
      '--no-steps',
      '--no-arms',
      '--fail-fast'
    ])
    t.is(r.code, 1, 'the soak fails')
    t.ok(/^SCIT_SOAK_SEED=2727 commit=\S+/m.test(r.stderr), 'it printed the seed and commit first')
    t.ok(
      /VIOLATION money: view length \d+: Σ balances \d+ \+ Σ escrow \d+ = \d+, minted \d+ \(SCIT_SOAK_SEED=2727\)/.test(
        r.stderr
      ),
      'it reported the money invariant broken, with the seed'
    )
    t.ok(/soak FAILED \(replay: npm run soak -- --seed 2727/.test(r.stderr), 'and how to replay it')
    t.absent(/VIOLATION leftover/.test(r.stderr), 'and left nothing behind')
  }
)
