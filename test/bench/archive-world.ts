/**
 * The archive benches' world: a testnet market with `nodes` in-process
 * holders and an archive of `capacity` bytes deployed on them, its setup's
 * progress on stderr and its event loop delay printed (one process hosts
 * every node: a starved loop is what times their market checks out).
 */
import { monitorEventLoopDelay } from 'perf_hooks'
import type { Assert } from 'brittle'
import { MiB } from '../../lib/resources'
import type { Testnet } from '../../lib/testnet'
import { archiveWorld, type ArchiveWorld } from '../helpers/archive'
import { ms } from './shim'

/** The code for `nodes` holders: 20+10 from 31 (one spare), 4+2 from 7, else 2+1. */
export function codeFor(nodes: number): [number, number] {
  return nodes >= 31 ? [20, 10] : nodes >= 7 ? [4, 2] : [2, 1]
}

export async function benchWorld(
  t: Assert,
  net: Testnet,
  nodes: number,
  capacity: number
): Promise<ArchiveWorld> {
  const [k, m] = codeFor(nodes)
  const mib = Math.ceil(capacity / MiB)
  const lag = monitorEventLoopDelay({ resolution: 20 })
  lag.enable()
  const setup = process.hrtime.bigint()
  const a = await archiveWorld(t, net, {
    step: (text) =>
      console.error(
        `setup ${(ms(setup) / 1000).toFixed(0)} s: ${text} (event loop delay max so far ${(lag.max / 1e6).toFixed(0)} ms)`
      ),
    count: nodes,
    data: k,
    parity: m,
    capacity: `${mib}MiB`,
    // each node sells twice a shard (one group, and slack)
    hdd: Math.ceil((mib * 2) / k) * MiB + 16 * MiB
  })
  lag.disable()
  console.log(
    `setup of ${nodes} nodes and a ${k}+${m} archive of ${mib} MiB: ${(ms(setup) / 1000).toFixed(0)} s; event loop delay p50 ${(lag.percentile(50) / 1e6).toFixed(0)} ms, p99 ${(lag.percentile(99) / 1e6).toFixed(0)} ms, max ${(lag.max / 1e6).toFixed(0)} ms`
  )
  return a
}
