/**
 * How the soak judges a CRM write found missing (test/soak/crm.ts), on its own: no process, no network.
 */
import test from 'brittle'
import {
  LeaseHolders,
  lossWindow,
  lossReport,
  lastLinked,
  LEASE_SLACK,
  STATE_INTERVAL,
  SNAPSHOT_SLACK
} from './soak/crm'
import type { Outage } from './soak/injector'

const S = 1000
const ALLOWED = STATE_INTERVAL + SNAPSHOT_SLACK

test("soak30-q35's c60: a write taken by the lease its bot had just failed (scit connect still routed to it) is judged by that node, not as acknowledged by none", (t) => {
  const holders = new LeaseHolders()
  // botB's CRM on n2 until its heal failed that lease at 188 s; the replacement on n1 settled at 214 s
  for (let at = 100 * S; at <= 188 * S; at += S) holders.note(['n2'], at)
  for (let at = 189 * S; at <= 194 * S; at += S) holders.note([], at)
  const c60 = { name: 'botB-c60', at: 194 * S, nodes: holders.at(194 * S) }
  t.alike(c60.nodes, ['n2'], 'the write at 194 s: n2 had the lease 6 s before')
  for (let at = 214 * S; at <= 230 * S; at += S) holders.note(['n1'], at)
  const outages: Outage[] = [
    { name: 'n2', kind: 'pause', from: 168 * S, to: 194 * S },
    { name: 'n2', kind: 'pause', from: 210 * S, to: 213 * S },
    { name: 'n2', kind: 'damage', from: 213 * S, to: 249 * S }
  ]
  const { window, down } = lossWindow(c60, outages)
  t.is(down?.from, 210 * S, 'the first fault of n2 after the write')
  t.ok(window <= ALLOWED, `lost ${window / S} s before n2 went down: within one snapshot interval`)
  t.alike(holders.at(214 * S + LEASE_SLACK + S), ['n1'], 'past the slack, only the lease in force')
})

test('a write lost with no fault of any node that held the lease after it is a loss', (t) => {
  const holders = new LeaseHolders()
  holders.note(['n1'], 10 * S)
  const a = { name: 'c1', at: 20 * S, nodes: holders.at(20 * S) }
  const outages: Outage[] = [
    { name: 'n1', kind: 'kill', from: 5 * S, to: 9 * S },
    { name: 'n0', kind: 'kill', from: 25 * S, to: 30 * S }
  ]
  t.is(lossWindow(a, outages).window, Infinity, 'n1 never went down after it, n0 held no lease')
  const late = { name: 'c2', at: 20 * S, nodes: ['n1'] }
  const after = [{ name: 'n1', kind: 'cut', from: 20 * S + ALLOWED + S, to: null } as Outage]
  t.ok(lossWindow(late, after).window > ALLOWED, 'n1 went down more than an interval after it')
  t.alike(new LeaseHolders().at(0), [], 'no lease ever: no node')
})

test("soak30-q36's c30: the loss names when the write was acknowledged and when its node went down, in the run's seconds", (t) => {
  const t0 = 1_000_000
  // botA's CRM on n1 (lease 4y4cq…) from 187 s; n1 killed at 246.7 s; the read that missed c30 came at 688.2 s
  const c30 = { name: 'botA-c30', at: t0 + 214.2 * S, nodes: ['n1'] }
  const outages: Outage[] = [
    { name: 'n1', kind: 'damage', from: t0 + 197.9 * S, to: t0 + 210.6 * S },
    { name: 'n1', kind: 'kill', from: t0 + 246.7 * S, to: t0 + 251.2 * S },
    { name: 'n1', kind: 'kill', from: t0 + 557.3 * S, to: t0 + 560.1 * S }
  ]
  t.is(
    lossReport('botA', c30, outages, t0),
    "botA's CRM lost contact botA-c30, acknowledged at 214.2 s while n1 held its lease, 32.5 s before n1 went down at 246.7 s (kill)"
  )
  const within = { ...c30, at: t0 + 230 * S }
  t.is(lossReport('botA', within, outages, t0), null, '16.7 s before: within the allowance')
  t.ok(
    lossReport('botA', { ...c30, nodes: [] }, outages, t0)?.endsWith(
      'acknowledged at 214.2 s while no node held its lease, with no fault of those after it'
    ),
    'no holder: said so'
  )
})

test("soak30 seed 2700 on 2ae367d: writes a damaged store held alone, its bot away, are judged from the bot's last chance to copy them", (t) => {
  const t0 = 1_000_000
  // botB's CRM on n0; botB cut from every peer 725-789 s and paused 734-754 s; n0 killed at 793.1 s, a store file
  // flipped, its store moved aside at the next start
  const outages: Outage[] = [
    { name: 'botB', kind: 'cut', from: t0 + 725 * S, to: t0 + 789 * S },
    { name: 'botB', kind: 'pause', from: t0 + 734 * S, to: t0 + 754 * S },
    { name: 'n0', kind: 'damage', from: t0 + 793.1 * S, to: t0 + 803 * S }
  ]
  const lastCopy = (node: string, at: number): number =>
    lastLinked(
      (s) =>
        !outages.some(
          (o) =>
            (o.name === 'botB' || o.name === node) && o.from <= s && (o.to === null || o.to > s)
        ),
      at,
      t0
    )
  t.is(
    lastCopy('n0', t0 + 793.1 * S),
    t0 + 724.1 * S,
    'botB linked to n0 again for 3.5 s only: its last chance to copy was before its cut'
  )
  const c161 = { name: 'botB-c161', at: t0 + 737.6 * S, nodes: ['n0'] }
  t.ok(lossWindow(c161, outages).window > ALLOWED, 'by the damage alone: 55.5 s, a violation')
  t.is(
    lossReport('botB', c161, outages, t0, lastCopy),
    null,
    'acknowledged after botB last could copy it'
  )
  // a write made while botB copied, more than an interval before it was cut off, is still judged a loss
  const early = { name: 'botB-c100', at: t0 + 690 * S, nodes: ['n0'] }
  t.is(
    lossReport('botB', early, outages, t0, lastCopy),
    "botB's CRM lost contact botB-c100, acknowledged at 690.0 s while n0 held its lease, 34.1 s before botB last could copy from n0 (724.1 s), whose store was damaged at 793.1 s"
  )
  // and a kill is no damage: the store holds every snapshot, the next node reads them there
  const killed = outages.map((o) => (o.kind === 'damage' ? { ...o, kind: 'kill' as const } : o))
  t.ok(lossReport('botB', c161, killed, t0, lastCopy) !== null, 'a kill excuses nothing more')
})
