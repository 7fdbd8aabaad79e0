/**
 * Bot figures on a local testnet with real node daemons: the time from
 * `deploy` to every replica running, for a service spread over 10 nodes
 * (one replica each), split into trading (bid → every trade settled and
 * final) and the rest (contract core written, replicated, verified, started).
 *
 *   node .dist-f/test/bench/deploy.js [nodes] [runs]
 */
import { startTestnet } from '../../lib/testnet'
import { world, node, bot, serviceTemplate } from '../helpers/deploy'
import { deploy, waitRunning, stop } from '../../bot/deployment'
import { shim, ms } from './shim'

const NODES = Number(process.argv[2] ?? 10)
const RUNS = Number(process.argv[3] ?? 3)

async function main(): Promise<void> {
  const { t, done } = shim()
  const net = await startTestnet(3)
  t.teardown(() => net.destroy(), { order: Infinity })
  try {
    const w = await world(t, net)
    const setup = process.hrtime.bigint()
    await Promise.all(Array.from({ length: NODES }, () => node(t, w)))
    console.log(`${NODES} node daemons up and offering in ${ms(setup).toFixed(0)} ms`)
    const b = await bot(t, w, { fund: 10_000_000 })
    const file = await serviceTemplate(t, { replicas: NODES })
    const totals: number[] = []
    for (let i = 0; i < RUNS; i++) {
      const start = process.hrtime.bigint()
      let traded = 0
      const on = (step: string): void => {
        if (step === 'header') traded = ms(start)
      }
      b.events.on('progress', on)
      const d = await deploy(b, { template: file, id: `bench-${i}` })
      const written = ms(start)
      await waitRunning(b, d, { poll: 20 })
      const total = ms(start)
      b.events.off('progress', on)
      totals.push(total)
      console.log(
        `run ${i + 1}: ${NODES} replicas running ${total.toFixed(0)} ms after deploy (trades settled+final ${traded.toFixed(0)} ms, contract written ${written.toFixed(0)} ms)`
      )
      await stop(b, d)
    }
    totals.sort((a, b) => a - b)
    console.log(
      `deploy → all ${NODES} replicas running: median ${totals[Math.floor(totals.length / 2)].toFixed(0)} ms, min ${totals[0].toFixed(0)} ms, max ${totals[totals.length - 1].toFixed(0)} ms over ${RUNS} runs`
    )
  } finally {
    await done()
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
