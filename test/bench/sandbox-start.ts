/**
 * The sandbox's start+exit time on the runtime this runs on: RUNS launches of
 * COMMAND in bubblewrap, as a node starts a workload (start to close); prints
 * the median in ms.
 *   node dist/test/bench/sandbox-start.js RUNS COMMAND…
 *   bare bin/bare-node.js dist/test/bench/sandbox-start.js RUNS COMMAND…
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { spawnSandboxed } from '../../node/sandbox'

async function main(): Promise<void> {
  const [runs, ...command] = process.argv.slice(2)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-bench-'))
  fs.chmodSync(dir, 0o711)
  const times: number[] = []
  try {
    for (let i = 0; i < Number(runs); i++) {
      const s = process.hrtime.bigint()
      const run = spawnSandboxed({
        workDir: path.join(dir, `w${i}`),
        command,
        env: {},
        memory: 256 * 1024 * 1024,
        cpu: 1000
      })
      await new Promise((resolve) => run.process.once('close', resolve))
      times.push(Number(process.hrtime.bigint() - s) / 1e6)
      await run.gone
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  console.log(times.sort((a, b) => a - b)[Math.floor(times.length / 2)].toFixed(1))
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err)
    process.exit(1)
  }
)
