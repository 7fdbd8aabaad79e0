/**
 * Which failed lease the monitor heals again (bot/monitor.ts unreplaced), on records alone: no process, no network.
 */
import test from 'brittle'
import { unreplaced } from '../bot/monitor'
import type { BidRecord, DeploymentRecord, TradeRecord } from '../bot/records'

function trade(id: string, over: Partial<TradeRecord> = {}): TradeRecord {
  return {
    id,
    workload: 'mine',
    node: `node-${id}`,
    price: 12,
    phase: 'settled',
    replaces: null,
    reason: null,
    ...over
  }
}

function deployment(
  trades: TradeRecord[],
  bids: Array<Pick<BidRecord, 'phase' | 'replaces'> & { id?: string }>
): DeploymentRecord {
  return {
    id: 'job-2',
    template: 'job.yaml',
    set: {},
    manifestHash: '',
    manifest: '',
    sources: [],
    contract: null,
    phase: 'running',
    bids: bids.map((b) => ({
      phase: b.phase,
      replaces: b.replaces,
      workload: 'mine',
      attempt: 3,
      body: {} as BidRecord['body'],
      reason: null,
      id: b.id ?? null
    })),
    trades,
    created: 0,
    error: null
  }
}

test("soak30 seed 2700 on 225f8a5: a replacement its bot found unreachable, killed before closing it, does not count as the failed lease's replacement", (t) => {
  // botB's job-2: its lease on pyfhxs93 failed; the third replacement bid filled on qrtujpk3, the reach check failed
  // and gave up (bid cancelled, trade marked unreached), and botB was killed before the close: the trade stays matched
  const failed = trade('g9z4', {
    phase: 'failed',
    reason: 'node pyfhxs93 unreachable for 21816 ms'
  })
  const lost = [
    trade('jgy3', { phase: 'closed', replaces: 'g9z4' }),
    trade('xf1t', { phase: 'closed', replaces: 'g9z4', unreached: 1 })
  ]
  const unreached = trade('7edw', { phase: 'matched', replaces: 'g9z4', unreached: 2 })
  const d = deployment([failed, ...lost, unreached], [{ phase: 'cancelled', replaces: 'g9z4' }])
  t.ok(unreplaced(d, failed), 'healed again: nothing replaces it')

  const matched = trade('7edw', { phase: 'matched', replaces: 'g9z4' })
  t.absent(
    unreplaced(deployment([failed, matched], []), failed),
    'a replacement matched and not found unreachable: being settled'
  )
  t.absent(
    unreplaced(deployment([failed, unreached], [{ phase: 'filled', replaces: 'g9z4' }]), failed),
    'a bid for it in flight: its heal goes on'
  )
  t.absent(unreplaced(d, trade('live')), 'a live lease is not healed')
})

test("soak30 seed 2701 on ca3f97c: a replacement released unsettled (its bid filled) does not count as the failed lease's replacement", (t) => {
  // botB's archive: the shard lease 6kxo failed; its replacement bid filled on qbk1ioam (trade od7h.0), botB was killed
  // and cut off for 118 s, and the market released the trade at the end of its settlement window
  const failed = trade('6kxo', {
    phase: 'failed',
    reason: 'node qbk1ioam unreachable for 20063 ms'
  })
  const released = trade('od7h.0', { phase: 'released', replaces: '6kxo' })
  const filled = { phase: 'filled' as const, replaces: '6kxo', id: 'od7h' }
  t.ok(
    unreplaced(deployment([failed, released], [filled]), failed),
    'healed again: its filled bid is done, its trade released'
  )
  const matched = trade('od7h.0', { phase: 'matched', replaces: '6kxo' })
  t.absent(
    unreplaced(deployment([failed, matched], [filled]), failed),
    'its trade still to settle: the heal goes on'
  )
  t.absent(
    unreplaced(deployment([failed], [filled]), failed),
    'filled, its trade not recorded yet (a crash between): the heal goes on'
  )
})
