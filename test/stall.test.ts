import test from 'brittle'
import { spawnSync } from 'child_process'
import path from 'path'

const STALL = path.join(__dirname, '..', 'lib', 'stall.js')

/** A start that awaits something nothing can finish (no socket, no timer): what the soak's indexer did. */
function start(armed: boolean): { status: number | null; stderr: string } {
  const code = [
    `const { stallIsAnError } = require(${JSON.stringify(STALL)})`,
    armed ? `stallIsAnError('scit market serve', () => 'reading a block no peer can bring')` : '',
    'new Promise(() => {}).then(() => console.log("ready"))'
  ].join('\n')
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 30_000 })
  return { status: r.status, stderr: r.stderr }
}

test('a start left with nothing to wait for exits 1 saying which step stalled, not 0 in silence', (t) => {
  const silent = start(false)
  t.alike(silent, { status: 0, stderr: '' }, 'unguarded, Node exits 0 and says nothing')
  const guarded = start(true)
  t.is(guarded.status, 1, 'guarded, it exits 1')
  t.is(
    guarded.stderr,
    'error INTERNAL: scit market serve stopped before it was ready: nothing was left that could finish reading a block no peer can bring\n'
  )
})
