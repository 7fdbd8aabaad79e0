/**
 * A CPU profile of a stretch of a bench (node:inspector, this process only),
 * cut into stages by where each sample's stack is: the first frame from the
 * leaf that a stage claims (generic helpers such as b4a or the crypto
 * bindings are walked through, so a hash counts for whoever asked for it).
 * Printed as µs of CPU per MiB of the bench's data; PROFILE_STACKS=1 also
 * prints the 40 heaviest stacks (4 frames from the leaf), to see inside a stage.
 */
import inspector from 'inspector'

interface Frame {
  functionName: string
  url: string
}
interface ProfileNode {
  id: number
  callFrame: Frame
  children?: number[]
}
export interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

const STACKS = process.env.PROFILE_STACKS === '1'

/** Stage by file, checked in order against a frame's url (or its name for V8's own entries). */
const STAGES: Array<[string, RegExp]> = [
  ['seal (secretstream)', /lib\/archive\/seal\.js/],
  ['erasure code', /lib\/archive\/erasure|^wasm:/],
  ['Merkle (bot)', /lib\/archive\/merkle\.js/],
  ['stripes, uploads, downloads (bot)', /bot\/archive-/],
  [
    'node: hypercore, storage',
    /node\/archive-|node_modules\/(hypercore|hypercore-storage|rocksdb-native|corestore)\//
  ],
  [
    'shard messages (protomux, encoding)',
    /lib\/archive\/(shard-channel|messages)|node_modules\/(protomux|compact-encoding)\//
  ],
  [
    'transport (secret-stream, udx, dht)',
    /node_modules\/(@hyperswarm\/secret-stream|udx-native|hyperdht|dht-rpc|streamx)\//
  ],
  ['file read/write', /^node:(fs|internal\/fs)/],
  ['market, bot and node upkeep', /\/dist\/(market|bot|node|lib)\//],
  ['garbage collector', /^\(garbage collector\)$/],
  ['V8 outside JS, and the profiler', /^\(program\)$|node:inspector/],
  ['idle', /^\(idle\)$/]
]

export class CpuProfile {
  private readonly session = new inspector.Session()

  async start(): Promise<void> {
    this.session.connect()
    await this.post('Profiler.enable')
    await this.post('Profiler.setSamplingInterval', { interval: 500 })
    await this.post('Profiler.start')
  }

  /** Stops and returns ms of samples per stage (and 'other'). */
  async stop(): Promise<Map<string, number>> {
    const { profile } = (await this.post('Profiler.stop')) as { profile: Profile }
    this.session.disconnect()
    return stages(profile)
  }

  private post(method: string, params?: object): Promise<unknown> {
    return new Promise((resolve, reject) =>
      this.session.post(method, params, (err, r) => (err ? reject(err) : resolve(r)))
    )
  }
}

/** ms of samples per stage of a profile (a CpuProfile's, or a --cpu-prof file's). */
export function stages(p: Profile): Map<string, number> {
  const parent = new Map<number, number>()
  const byId = new Map<number, ProfileNode>()
  for (const n of p.nodes) {
    byId.set(n.id, n)
    for (const c of n.children ?? []) parent.set(c, n.id)
  }
  const memo = new Map<number, string>()
  const stageOf = (id: number): string => {
    const hit = memo.get(id)
    if (hit !== undefined) return hit
    let stage = 'other'
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = (byId.get(at) as ProfileNode).callFrame
      const where = f.url === '' ? f.functionName : f.url
      const s = STAGES.find(([, re]) => re.test(where))
      if (s !== undefined) {
        stage = s[0]
        break
      }
    }
    memo.set(id, stage)
    return stage
  }
  const stackOf = (id: number): string => {
    const chain: string[] = []
    for (
      let at: number | undefined = id;
      at !== undefined && chain.length < 4;
      at = parent.get(at)
    ) {
      const f = (byId.get(at) as ProfileNode).callFrame
      chain.push(`${f.functionName}@${f.url.split('/').slice(-2).join('/')}`)
    }
    return `${stageOf(id)} | ${chain.join(' < ')}`
  }
  const add = (m: Map<string, number>, key: string, i: number): void => {
    m.set(key, (m.get(key) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000)
  }
  const out = new Map<string, number>()
  const stacks = new Map<string, number>()
  for (let i = 0; i < p.samples.length; i++) {
    add(out, stageOf(p.samples[i]), i)
    if (STACKS) add(stacks, stackOf(p.samples[i]), i)
  }
  for (const [k, v] of [...stacks.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40))
    console.log(`    ${v.toFixed(0)} ms ${k}`)
  return out
}

/** One line per stage: µs per MiB, most first. */
export function perMiB(what: string, ms: Map<string, number>, mib: number): string {
  const rows = [...ms.entries()].sort((a, b) => b[1] - a[1])
  const busy = rows.filter(([s]) => s !== 'idle').reduce((n, [, v]) => n + v, 0)
  return [
    `${what}: main thread ${((busy * 1000) / mib).toFixed(0)} µs per MiB busy`,
    ...rows.map(([s, v]) => `  ${s}: ${((v * 1000) / mib).toFixed(0)} µs/MiB`)
  ].join('\n')
}
