/**
 * The soak's fault injector (test/soak/injector.ts) judged on its own, from the outages it keeps: no process, no
 * network. What a start's bound and a recovery's clock count.
 */
import test from 'brittle'
import fs from 'fs'
import path from 'path'
import { Injector } from './soak/injector'
import type { Cluster } from './soak/cluster'
import type { Fault } from './soak/schedule'

const S = 1000

function injector(said: string[] = []): Injector {
  const cast = {
    indexers: ['idx0', 'idx1', 'idx2'],
    nodes: ['n0', 'n1'],
    bots: ['botA'],
    others: []
  }
  // A process that is not running: a pause of it is counted as fired and does nothing.
  const proc = { alive: false, write: () => {} }
  return new Injector(
    { cast, proc: () => proc } as unknown as Cluster,
    (line) => said.push(line),
    () => {}
  )
}

function pause(n: number, target: string, at = 0): Fault {
  return { n, at, kind: 'pause', target, length: 1000 }
}

/** Hold `name` as a restart in progress does, until the returned function is called. */
function holding(inj: Injector, name: string): () => void {
  let release = (): void => {}
  const held = new Promise<void>((resolve) => {
    release = resolve
  })
  void inj.locked(name, () => held)
  return () => release()
}

test('a start is judged only while the process could reach the market: cut from every peer, or from the indexers of a quorum, its clock stops', (t) => {
  const inj = injector()
  // n0 is starting again after a kill (its outage open until it is up), and is cut from everyone for 119 s of it
  inj.outage({ name: 'n0', kind: 'kill', from: 0 })
  const cut = inj.outage({ name: 'n0', kind: 'cut', from: 10 * S })
  cut.to = 129 * S
  t.ok(inj.reaches('n0', 5 * S), 'before the cut: its own restart aside, it reaches the indexers')
  t.absent(inj.reaches('n0', 60 * S), 'cut off from every peer: no start can finish')
  t.ok(inj.reaches('n0', 130 * S), 'the cut over: its start counts again')
  // soak30-q35: 119 s then 116 s of cuts in a 240 s start; the bound counts the rest only
  const again = inj.outage({ name: 'n0', kind: 'cut', from: 133 * S })
  again.to = 249 * S
  let counted = 0
  for (let at = 0; at < 250 * S; at += S) if (inj.reaches('n0', at)) counted += S
  t.is(counted, 15 * S, '15 s of 250 counted against its start')
  t.is(
    inj.stalled('n0', 0, 250 * S),
    250 * S,
    'as a recovery clock, a process down is stalled throughout'
  )
})

test('a partition leaving a process only an indexer cut from the others stops its clock; one leaving it a quorum does not', (t) => {
  const inj = injector()
  const p = inj.outage({ name: 'n1', kind: 'partition', from: 0, peers: ['idx0', 'idx1'] })
  t.ok(inj.reaches('n1', S), 'it reaches idx2, which reaches the two others')
  const island = inj.outage({
    name: 'idx2',
    kind: 'partition',
    from: 2 * S,
    peers: ['idx0', 'idx1']
  })
  t.absent(inj.reaches('n1', 3 * S), 'idx2, its one indexer, is cut from the others')
  island.to = 4 * S
  t.ok(inj.reaches('n1', 5 * S), 'idx2 back with the others')
  p.to = 6 * S
  const paused = inj.outage({ name: 'n1', kind: 'pause', from: 7 * S })
  t.absent(inj.reaches('n1', 8 * S), 'paused, it does nothing')
  paused.to = 9 * S
  const down = inj.outage({ name: 'idx0', kind: 'kill', from: 10 * S })
  t.ok(inj.reaches('n1', 11 * S), 'one indexer down: the two others make a quorum')
  const second = inj.outage({ name: 'idx1', kind: 'cut', from: 12 * S })
  t.absent(inj.reaches('n1', 13 * S), 'one down, one cut: no quorum to reach')
  down.to = second.to = 14 * S
  t.ok(inj.reaches('n1', 15 * S))
})

test('a fault whose target is still restarting is skipped and counted, once its kind has fired as often as coverage asks', async (t) => {
  const said: string[] = []
  const inj = injector(said)
  inj.minimum = 1
  const release = holding(inj, 'n0')
  await inj.run(Date.now(), [pause(1, 'n1'), pause(2, 'n0', 50)], [])
  t.is(inj.fired.pause, 1, 'the fault on a free target fired')
  t.is(inj.skipped.pause, 1, 'the one on the restarting target was skipped, not queued behind it')
  t.ok(
    said.some((l) => /#\s+2 .* skipped, n0 is still stopped or restarting/.test(l)),
    'and said so'
  )
  release()
})

test('a fault waits for its restarting target while fewer faults than the run needs have fired in all', async (t) => {
  const inj = injector()
  inj.minimum = 1
  inj.total = 3
  const release = holding(inj, 'n0')
  let done = false
  const run = inj.run(Date.now(), [pause(1, 'n1'), pause(2, 'n0', 50)], []).then(() => {
    done = true
  })
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.absent(done, 'its kind has its minimum, but 1 of 3 faults fired: queued behind the restart')
  release()
  await run
  t.is(inj.firedInAll(), 2, 'both fired')
  t.is(inj.skipped.pause, undefined, 'nothing skipped')
})

test('a fault of a kind short of its coverage waits for its restarting target instead', async (t) => {
  const inj = injector()
  inj.minimum = 1
  const release = holding(inj, 'n0')
  let done = false
  const run = inj.run(Date.now(), [pause(1, 'n0')], []).then(() => {
    done = true
  })
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.absent(done, 'queued behind the restart')
  release()
  await run
  t.is(inj.fired.pause, 1, 'fired once the target was free')
  t.is(inj.skipped.pause, undefined, 'nothing skipped')
})

test('a clock fault is two restarts, each an outage of its node while it is down (soak30 seed 2700 on 2db97ea)', async (t) => {
  const data = await t.tmp()
  fs.mkdirSync(path.join(data, 'corestore'), { recursive: true })
  fs.writeFileSync(path.join(data, 'corestore', 'CORESTORE'), '')
  const proc = {
    name: 'n0',
    alive: true,
    starts: 1,
    spec: { argv: [] as string[] },
    tail: [] as string[],
    nextEnv: {},
    write: () => {},
    term: async () => {
      proc.alive = false
    },
    start: async () => {
      const from = Date.now()
      await new Promise((resolve) => setTimeout(resolve, 50))
      proc.alive = true
      proc.starts++
      starts.push({ from, to: Date.now() })
    }
  }
  const starts: Array<{ from: number; to: number }> = []
  const cast = { indexers: ['idx0', 'idx1', 'idx2'], nodes: ['n0'], bots: [], others: [] }
  const inj = new Injector(
    {
      cast,
      proc: () => proc,
      data: () => data,
      nodeSpec: () => ({ argv: [] })
    } as unknown as Cluster,
    () => {},
    () => {}
  )
  const clock: Fault = { n: 1, at: 0, kind: 'clock', target: 'n0', length: 100, skew: 60_000 }
  await inj.run(Date.now(), [clock], [])
  await inj.locked('n0', async () => {}) // the restart back to the true clock
  const down = inj.outages.filter((o) => o.name === 'n0' && o.kind === 'clock')
  t.is(down.length, 2, 'moved, then back')
  t.ok(
    starts.every((r) => down.some((o) => o.from <= r.from && o.to !== null && o.to >= r.to)),
    'each lasts while the node restarts'
  )
  t.is(proc.starts, 3)
})
