/**
 * Where the engine's time goes, per stage: a V8 CPU profile of one run on opened envelopes, each sample's own
 * function put in a stage by its file, scaled to the run's CPU time per op (engine.ts prints it with STAGES=1).
 */
import { Session } from 'inspector'

interface Node {
  id: number
  callFrame: { url: string; functionName: string }
}
interface Profile {
  nodes: Node[]
  samples: number[]
  timeDeltas: number[]
}

const STAGES: Array<[string, RegExp]> = [
  ['view (MemoryView)', /market\/memory-view|market\/range/],
  ['staged writes (Tx)', /engine\/tx\./],
  ['counts + history', /engine\/(counts|history)\./],
  ['offer book', /engine\/offer-book\./],
  ['keys', /engine\/keys\./],
  ['encode/decode', /compact-encoding|lib\/codec|market\/messages|engine\/decoded|z32|b4a|buffer/],
  ['engine rules and matching', /market\/engine\/|lib\/resources/],
  ['GC', /^\(garbage collector\)$/]
]

function stageOf(n: Node): string {
  const where = n.callFrame.url === '' ? n.callFrame.functionName : n.callFrame.url
  for (const [name, re] of STAGES) if (re.test(where)) return name
  return 'async, runtime, other'
}

function post<T>(s: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) =>
    s.post(method, params, (err, r) => (err !== null ? reject(err) : resolve(r as T)))
  )
}

/** Run `fn` (n ops) under the profiler: µs of CPU per op by stage, largest first. */
export async function stages(n: number, fn: () => Promise<void>): Promise<string> {
  const s = new Session()
  s.connect()
  await post(s, 'Profiler.enable')
  await post(s, 'Profiler.setSamplingInterval', { interval: 100 })
  await post(s, 'Profiler.start')
  const cpu0 = process.cpuUsage()
  await fn()
  const cpu = process.cpuUsage(cpu0)
  const { profile } = await post<{ profile: Profile }>(s, 'Profiler.stop')
  s.disconnect()
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const time = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)
    if (node === undefined || node.callFrame.functionName === '(idle)') return
    const stage = stageOf(node)
    time.set(stage, (time.get(stage) ?? 0) + profile.timeDeltas[i])
    total += profile.timeDeltas[i]
  })
  const perOp = (cpu.user + cpu.system) / n
  const rows = [...time]
    .sort((a, b) => b[1] - a[1])
    .map(([stage, t]) => `${stage} ${((t / total) * perOp).toFixed(1)}`)
  return `${perOp.toFixed(1)} µs CPU per op (profiled): ${rows.join(', ')}`
}
