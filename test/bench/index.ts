/**
 * `npm run bench`: every benchmark, one after the other, each in its own
 * process so that one's heap and sockets do not skew the next. Figures are
 * printed, never asserted: speed is not part of `npm test`.
 *
 *   npm run bench                 # all of them but the market simulation (an hour or more)
 *   npm run bench -- engine node  # some of them, by name
 */
import path from 'path'
import { spawnSync } from 'child_process'

const ALL = [
  'engine',
  'apply',
  'ledger',
  'join',
  'notary',
  'node',
  'mirror',
  'archive',
  'deploy',
  'connect',
  'state',
  'web',
  'market-sim'
]
/** Only when named. */
const LONG = ['market-sim']
const chosen = process.argv.slice(2)
const unknown = chosen.filter((name) => !ALL.includes(name))
if (unknown.length > 0) {
  console.error(`unknown benchmark: ${unknown.join(', ')} (known: ${ALL.join(', ')})`)
  process.exit(2)
}

let failed = 0
for (const name of chosen.length > 0 ? chosen : ALL.filter((n) => !LONG.includes(n))) {
  console.log(`\n## ${name}`)
  const started = process.hrtime.bigint()
  const r = spawnSync(process.execPath, [path.join(__dirname, `${name}.js`)], { stdio: 'inherit' })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (r.status !== 0) failed++
  console.log(
    `(${name}: ${r.status === 0 ? 'done' : `exit ${r.status ?? r.signal}`} in ${seconds.toFixed(1)} s)`
  )
}
process.exit(failed > 0 ? 1 : 0)
