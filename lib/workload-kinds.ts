/**
 * Every workload kind, declared once: what its template may say, how a node
 * runs it and how its bot checks it. lib/contract, node/ and bot/ read these
 * entries instead of naming kinds (docs/ARCHITECTURE.md "Adding a workload kind").
 */
import { MiB, type Resources } from './resources'

export type RestartPolicy = 'always' | 'on-failure' | 'never'
export const RESTART_POLICIES: readonly RestartPolicy[] = ['always', 'on-failure', 'never']

/** The fields that depend on the kind; the rest (env, resources, replicas, budget, files) go with any. */
export const KIND_FIELDS = [
  'command',
  'ports',
  'access',
  'state',
  'output',
  'mirror',
  'archive'
] as const
export type KindField = (typeof KIND_FIELDS)[number]

/**
 * How a node runs a kind: a sandboxed process (node/run.ts), cores it keeps
 * whole (node/mirror.ts), or its shard of an erasure-coded archive
 * (node/archive-keeper.ts); the last two run nothing.
 */
export type Runner = 'process' | 'keeper' | 'shards'

export interface KindEntry {
  /** Fields its template must give. */
  needs: readonly KindField[]
  /** Fields it may give besides; a template that gives any other KindField is refused. */
  may: readonly KindField[]
  /** When the template names none. */
  restart: RestartPolicy
  resources: Partial<Resources>
  runner: Runner
  /** Done once it exited (a job): its node reports the output's digest and never reruns it; its bot waits for the exit. */
  finishes: boolean
  /** Its bot proves with storage challenges that each node holds its data (bot/challenges.ts). */
  challenged: boolean
}

const ONE_CORE: Partial<Resources> = { cpu: 1000, memory: 256 * MiB }

/** In wire order: a manifest encodes a kind as its index here, so a new kind goes last. */
export const KINDS = {
  service: {
    needs: ['command'],
    may: ['ports', 'access', 'state'],
    restart: 'always',
    resources: ONE_CORE,
    runner: 'process',
    finishes: false,
    challenged: false
  },
  job: {
    needs: ['command'],
    may: ['output'],
    restart: 'on-failure',
    resources: ONE_CORE,
    runner: 'process',
    finishes: true,
    challenged: false
  },
  // whole copies of a core (a source, or the contract's files) on `replicas` nodes; its wire
  // index is the one the whole-copies kind had as "archive", so older manifests read as mirrors
  mirror: {
    needs: ['mirror'],
    may: [],
    restart: 'never',
    resources: {},
    runner: 'keeper',
    finishes: false,
    challenged: true
  },
  // a user's files, encrypted and erasure-coded over groups of nodes (docs/ARCHITECTURE.md "Archives")
  archive: {
    needs: ['archive'],
    may: [],
    restart: 'never',
    resources: {},
    runner: 'shards',
    finishes: false,
    challenged: true
  }
} as const satisfies Record<string, KindEntry>

export type WorkloadKind = keyof typeof KINDS
export const WORKLOAD_KINDS = Object.keys(KINDS) as WorkloadKind[]

export function kindEntry(name: WorkloadKind): KindEntry {
  return KINDS[name]
}

export function isWorkloadKind(name: unknown): name is WorkloadKind {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(KINDS, name)
}

export function allows(name: WorkloadKind, field: KindField): boolean {
  const k = kindEntry(name)
  return k.needs.includes(field) || k.may.includes(field)
}

/** For messages: "services", "services and jobs". */
export function kindsAllowing(field: KindField): string {
  return WORKLOAD_KINDS.filter((k) => allows(k, field))
    .map((k) => k + 's')
    .join(' and ')
}
