import test from 'brittle'
import { Meter, progressLine, type Progress } from '../bot/archive-progress'
import { MiB, GiB } from '../lib/resources'

test("put and get's progress line: bytes of the total, the rate, the time left", (t) => {
  t.is(
    progressLine({ name: 'photos', done: 120 * MiB, total: GiB, rate: 45 * MiB, eta: 21 }),
    'photos  120MiB of 1GiB (11%)  45MiB/s  0:21 left'
  )
  t.is(
    progressLine({ name: 'big', done: 0, total: 100 * GiB, rate: 0, eta: null }),
    'big  0 of 100GiB (0%)  0/s',
    'no time left before the rate is known'
  )
  t.ok(
    progressLine({ name: 'x', done: 1, total: 2 * 3600 * 10, rate: 1, eta: 7261 }).endsWith(
      '2:01:01 left'
    ),
    'hours past the first'
  )
  t.ok(progressLine({ name: 'empty', done: 0, total: 0, rate: 0, eta: null }).includes('(100%)'))
})

test('a meter reports at most four times a second, and once more, final, at the end', (t) => {
  const seen: Array<[Progress, boolean]> = []
  const m = new Meter('f', 10, (p, final) => seen.push([p, final]))
  for (let i = 0; i < 10; i++) m.add(1)
  m.end()
  t.is(seen.length, 2, 'the first add, then the end (the rest within 250 ms)')
  t.is(seen[0][1], false)
  const [last, final] = seen[1]
  t.ok(final, 'the last report is final')
  t.is(last.done, 10)
  t.is(last.total, 10)
  t.is(last.eta, 0, 'nothing left')
})
