/**
 * A lease whose node answers but does not run it is healed like a dead node's (the soak, seed 2700: a node killed,
 * paused and restarted every 20-40 s answered the bot each time and never started its job for 84 s, never silent for
 * the grace); a start that gets further is not.
 */
import fs from 'fs'
import path from 'path'
import type { Assert } from 'brittle'
import { FAST_MONITOR, healed, oneOfTwo, stateOn } from './helpers/deploy'
import { workloadId } from '../lib/trade-workload'
import { waitRunning } from '../bot/deployment'
import { NodeDaemon } from '../node/daemon'
import type { Bot } from '../bot/bot'
import { sandboxTest } from './helpers/sandbox'

/** The bound of the rule in these tests: grace + startWithin (its default, grace). */
const BOUND = 2 * FAST_MONITOR.grace
/** How long a test waits for a heal before it says there was none (the bot checks every 200 ms). */
const NO_HEAL = 5 * BOUND

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Restart the lease's node with the staging dir of the lease replaced by a file: the node answers, follows the
 * contract and signs 'verifying' with the same error at every try (every 15 s), and never runs the workload.
 */
async function restartedStuck(
  t: Assert,
  r: Awaited<ReturnType<typeof oneOfTwo>>
): Promise<NodeDaemon> {
  const { victim, lost, w, b } = r
  await victim.close()
  const staging = path.join(victim.opts.data, 'files', workloadId(lost))
  fs.rmSync(staging, { recursive: true, force: true })
  fs.writeFileSync(staging, 'not a directory')
  const again = new NodeDaemon({ ...victim.opts, dht: w.net.createNode() })
  t.teardown(() => again.close(), { order: -2 })
  await again.ready()
  await answers(b, again.key)
  return again
}

/** Resolve once `b` pinged `node`: the monitor then starts with the node answering, never silent for the grace. */
async function answers(b: Bot, node: string): Promise<void> {
  for (;;) {
    const ch = b.nodeChannel(node)
    const ok =
      ch !== null &&
      (await ch.ping({ timeout: 1000 }).then(
        () => true,
        () => false
      ))
    if (ok) return
    await sleep(100)
  }
}

/** The first heal's reason (step 'heal'), or null when none came in `ms`. */
function healReason(b: Bot, ms: number): Promise<string | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(null), ms)
    const on = (step: string, detail: string): void => {
      if (step === 'heal') done(detail)
    }
    const done = (v: string | null): void => {
      clearTimeout(timer)
      b.events.off('progress', on)
      resolve(v)
    }
    b.events.on('progress', on)
  })
}

sandboxTest(
  'a node that answers but never runs its lease is healed: the replacement settles on the other node and runs',
  async (t) => {
    const r = await oneOfTwo(t)
    const { b, d, lost, spare } = r
    const again = await restartedStuck(t, r)
    t.is(stateOn(again, lost.id), null, 'the restarted node runs nothing for the lease')

    const reason = healReason(b, NO_HEAL)
    const done = healed(b)
    b.monitor.start()
    const why = await reason
    t.ok(why !== null && why.includes(`has not run ${lost.workload}`), `healed: ${why ?? 'never'}`)
    t.ok(why?.includes(lost.node.slice(0, 8)), 'the reason names the node')
    if (why === null) return
    const what = await done
    t.ok(what.startsWith('healed'), what)

    t.is(d.trades.find((x) => x.id === lost.id)?.phase, 'failed', 'the stalled lease is failed')
    const replacement = d.trades.find((x) => x.replaces === lost.id)
    t.is(replacement?.node, spare.key, 'the replacement lease is on the other node')
    t.is(replacement?.phase, 'settled')
    const rows = await waitRunning(b, d)
    t.is(rows.find((x) => x.trade === replacement?.id)?.state, 'running', 'and runs there')
  }
)

sandboxTest(
  'a start that keeps getting further is not healed past the bound; once it stops, it is',
  async (t) => {
    const r = await oneOfTwo(t)
    const { b, d, lost } = r
    const again = await restartedStuck(t, r)

    // what a node fetching a big file signs (node/lease.ts fetching): a new word every 500 ms
    let fetched = 0
    const fetching = setInterval(() => {
      fetched += 1000
      again.supervisor.note(
        workloadId(lost),
        'verifying',
        `fetching big.bin: ${fetched} of 10000000 bytes`
      )
    }, 500)
    t.teardown(() => clearInterval(fetching))

    const early = healReason(b, NO_HEAL)
    b.monitor.start()
    // a window of checks several times the bound: each sees a word it had not seen
    while (fetched < (3 * BOUND * 1000) / 500) await sleep(100)
    clearInterval(fetching)
    const lease = d.trades.find((x) => x.id === lost.id)
    t.is(lease?.phase, 'settled', `not healed while it got further (${fetched} bytes signed)`)
    t.is(lease?.healing, undefined, 'no heal was decided')
    t.absent(
      d.trades.some((x) => x.replaces === lost.id),
      'nothing replaces it'
    )

    const why = await early
    t.ok(
      why !== null && why.includes(`has not run ${lost.workload}`),
      `then healed: ${why ?? 'never'}`
    )
    t.ok(why?.includes(`fetching big.bin: ${fetched} of`), 'at the last word it signed')
  }
)
