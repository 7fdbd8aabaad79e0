/**
 * Instantiation: a template plus parameter values becomes a fully concrete
 * manifest (lib/contract-messages Manifest): every expression evaluated,
 * every size in bytes, every file hashed. Same template, same files, same
 * values: same bytes, same manifest hash, on any machine.
 */
import { ScitError } from '../lib/errors'
import { decodeKey } from '../lib/keys'
import {
  parseCpu,
  parseSize,
  resources as checkResources,
  Resources,
  RESOURCE_KINDS
} from '../lib/resources'
import {
  Manifest,
  ManifestWorkload,
  ManifestFile,
  manifestHash,
  hashFile,
  checkManifest,
  MANIFEST_VERSION,
  MAX_RETAIN,
  Access,
  ArchiveSpec,
  DEFAULT_ACCESS,
  kindEntry
} from '../lib/contract'
import type { BidBody } from '../market/types'
import { checkCode } from '../lib/archive/erasure'
import { groupsFor, holderBudget, DEFAULT_SHARD, DEFAULT_PRICE } from '../lib/archive/groups'
import { Template, TemplateError, Path, ParamValue, resolveParams, columnShift } from './template'
import type { Expr, WorkloadDecl } from './template-types'
import {
  evaluate,
  ExpressionError,
  Value,
  isRational,
  isInteger,
  formatValue,
  rat
} from './expressions'
import { formatPath } from '../lib/schema'

export interface Instance {
  manifest: Manifest
  hash: Buffer
  /** Where each manifest file comes from on this machine, for ContractWriter.appendFile. */
  sources: Array<{ workload: string; path: string; source: string }>
}

/** How often a node snapshots a service's declared state when it changed (ms). */
export const DEFAULT_STATE_INTERVAL = 10_000
/** How long a node keeps a job's output after its lease when the template does not say. */
export const DEFAULT_RETAIN = 24 * 3_600_000
const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000
}

export async function instantiate(
  t: Template,
  set: Record<string, ParamValue> = {}
): Promise<Instance> {
  const { values, scope } = resolveParams(t, set)
  const ev = new Evaluator(t, scope)
  const d = t.doc
  const budget = ev.int(['budget'], d.budget)
  const sources: Instance['sources'] = []
  const workloads: ManifestWorkload[] = []
  for (let i = 0; i < d.workloads.length; i++) {
    const w = d.workloads[i]
    const files = await collectFiles(t, i)
    for (const f of files) sources.push({ workload: w.name, path: f.path, source: f.source })
    workloads.push(
      ev.workload(
        w,
        i,
        files.map(({ path, size, hash }) => ({ path, size, hash })),
        budget
      )
    )
  }
  const p = d.placement ?? {}
  const countries = (p.countries ?? []).map((x, j) => {
    const v = ev.text(['placement', 'countries', j], x).toUpperCase()
    if (!/^[A-Z]{2}$/.test(v))
      ev.fail(
        ['placement', 'countries', j],
        `"${v}" is not an ISO 3166 alpha-2 country code (CH, BE, …)`
      )
    return v
  })
  const manifest: Manifest = {
    version: MANIFEST_VERSION,
    template: { name: d.name, version: d.version },
    params: values,
    workloads,
    placement: {
      countries: [...new Set(countries)].sort(),
      attributes: [
        ...new Set((p.attributes ?? []).map((x, j) => ev.text(['placement', 'attributes', j], x)))
      ].sort(),
      spread: p.spread === undefined ? true : ev.bool(['placement', 'spread'], p.spread)
    },
    duration: ev.duration(['duration'], d.duration),
    budget,
    stakeholders: {
      threshold: d.stakeholders?.threshold ?? 0,
      signers: (d.stakeholders?.signers ?? []).map((s) => ({
        key: decodeKey(s.key),
        role: s.role,
        weight: s.weight ?? 1
      }))
    }
  }
  try {
    checkManifest(manifest)
  } catch (err) {
    // a manifest every node would refuse is the template's fault: say so before anything is bought
    if (err instanceof ScitError)
      throw new TemplateError([
        t.problem([], `the manifest would be refused by nodes: ${err.message}`)
      ])
    throw err
  }
  return { manifest, hash: manifestHash(manifest), sources }
}

class Evaluator {
  constructor(
    readonly t: Template,
    readonly scope: Map<string, Value>
  ) {}

  fail(p: Path, message: string, offset = 0): never {
    throw new TemplateError([this.t.problem(p, `${formatPath(p)}: ${message}`, offset)])
  }

  value(p: Path, raw: Expr | boolean): Value {
    if (typeof raw === 'number')
      return Number.isInteger(raw) ? rat(BigInt(raw)) : this.fail(p, `${raw} is not a whole number`)
    if (typeof raw === 'boolean') return raw
    const compiled = this.t.expressions.get(formatPath(p))
    if (!compiled) return raw
    try {
      return evaluate(compiled, this.scope)
    } catch (err) {
      if (!(err instanceof ExpressionError)) throw err
      return this.fail(p, err.message, columnShift(this.t, p, err.offset))
    }
  }

  int(p: Path, raw: Expr): number {
    const v = this.value(p, raw)
    if (isRational(v) && !isInteger(v))
      return this.fail(
        p,
        `evaluates to ${formatValue(v)}, not a whole number: wrap it in ceil() or floor()`
      )
    const n = isRational(v)
      ? Number(v.n)
      : typeof v === 'string' && /^\d+$/.test(v.trim())
        ? Number(v)
        : NaN
    if (!Number.isSafeInteger(n) || n < 0)
      return this.fail(p, `must be a whole number ≥ 0, got ${formatValue(v)}`)
    return n
  }

  text(p: Path, raw: Expr): string {
    const v = this.value(p, raw)
    if (isRational(v) && !isInteger(v))
      return this.fail(
        p,
        `evaluates to ${formatValue(v)}, not a whole number: wrap it in ceil() or floor()`
      )
    return formatValue(v)
  }

  bool(p: Path, raw: Expr | boolean): boolean {
    const v = this.value(p, raw)
    if (typeof v === 'boolean') return v
    if (v === 'true' || v === 'false') return v === 'true'
    return this.fail(p, `must be true or false, got ${formatValue(v)}`)
  }

  /** A number is bytes; text is a size with a unit ("${users * 8}MiB"). */
  size(p: Path, raw: Expr): number {
    const v = this.value(p, raw)
    if (isRational(v)) return this.int(p, raw)
    return this.unit(p, () => parseSize(String(v)))
  }

  /** A number is cores; text is cores or millicores ("500m"). */
  cpu(p: Path, raw: Expr): number {
    const v = this.value(p, raw)
    if (isRational(v) && !isInteger(v))
      return this.fail(
        p,
        `is ${formatValue(v)} cores, not a whole number: use ceil(), or millicores ("\${…}m")`
      )
    return this.unit(p, () => parseCpu(formatValue(v)))
  }

  duration(p: Path, raw: Expr): number {
    const v = formatValue(this.value(p, raw))
    const m = /^\s*(\d+)\s*(ms|s|m|h|d|w)\s*$/.exec(v)
    if (!m)
      return this.fail(
        p,
        `"${v}" is not a duration: a whole number with a unit (ms, s, m, h, d, w), e.g. 30d`
      )
    const ms = Number(m[1]) * DURATION_UNITS[m[2]]
    return Number.isSafeInteger(ms) && ms > 0 ? ms : this.fail(p, `"${v}" is out of range`)
  }

  /** A job output's retention: a duration of at most MAX_RETAIN. */
  retention(p: Path, raw: Expr): number {
    const ms = this.duration(p, raw)
    return ms <= MAX_RETAIN ? ms : this.fail(p, `a node keeps an output at most 30d`)
  }

  private unit(p: Path, fn: () => number): number {
    try {
      return fn()
    } catch (err) {
      if (err instanceof ScitError) return this.fail(p, err.message)
      throw err
    }
  }

  workload(w: WorkloadDecl, i: number, files: ManifestFile[], budget: number): ManifestWorkload {
    const p: Path = ['workloads', i]
    const r: Partial<Resources> = { ...kindEntry(w.kind).resources }
    for (const k of RESOURCE_KINDS) {
      const raw = w.resources?.[k]
      if (raw === undefined) continue
      const at = [...p, 'resources', k]
      r[k] =
        k === 'cpu'
          ? this.cpu(at, raw)
          : k === 'memory' || k === 'ssd' || k === 'hdd'
            ? this.size(at, raw)
            : this.int(at, raw)
    }
    let mirror: ManifestWorkload['mirror'] = null
    if (w.mirror) {
      const size = this.size([...p, 'mirror', 'size'], w.mirror.size)
      if (r.hdd === undefined) r.hdd = size
      else if (r.hdd < size)
        this.fail([...p, 'resources', 'hdd'], `${r.hdd} bytes cannot hold the mirror's ${size}`)
      mirror = { size, source: w.mirror.source ? decodeKey(w.mirror.source) : null }
    }
    let replicas = w.replicas === undefined ? 1 : this.int([...p, 'replicas'], w.replicas)
    if (replicas < 1) this.fail([...p, 'replicas'], 'must be at least 1')
    let perReplica = w.budget === undefined ? budget : this.int([...p, 'budget'], w.budget)
    let archive: ArchiveSpec | null = null
    if (w.archive) {
      const a = this.archive([...p, 'archive'], w.archive)
      r.hdd = a.shard
      replicas = a.groups * (a.data + a.parity)
      perReplica = holderBudget(a.shard, a.price)
      archive = a
    }
    const ports = (w.ports ?? []).map((x, j) => {
      const n = this.int([...p, 'ports', j], x)
      return n >= 1 && n <= 65535
        ? n
        : this.fail([...p, 'ports', j], `${n} is not a port (1-65535)`)
    })
    const env: Record<string, string> = {}
    for (const [k, x] of Object.entries(w.env ?? {})) env[k] = this.text([...p, 'env', k], x)
    return {
      name: w.name,
      kind: w.kind,
      files,
      command: (w.command ?? []).map((x, j) => this.text([...p, 'command', j], x)),
      env,
      ports: [...new Set(ports)].sort((a, b) => a - b),
      restart: w.restart ?? kindEntry(w.kind).restart,
      resources: checkResources(r),
      replicas,
      budget: perReplica,
      mirror,
      output: w.output ?? null,
      retain:
        w.output === undefined
          ? 0
          : w.retain === undefined
            ? DEFAULT_RETAIN
            : this.retention([...p, 'retain'], w.retain),
      access: accessOf(w.access),
      state:
        w.state === undefined
          ? null
          : {
              paths: [...new Set(w.state.map((x) => x.replace(/\/+$/, '')))].sort(),
              interval:
                w.stateInterval === undefined
                  ? DEFAULT_STATE_INTERVAL
                  : this.duration([...p, 'stateInterval'], w.stateInterval)
            },
      archive
    }
  }

  /** The code, and groups of holders keeping at most the template's shard cap (the bot may plan smaller ones). */
  private archive(p: Path, a: NonNullable<WorkloadDecl['archive']>): ArchiveSpec {
    const size = this.size([...p, 'size'], a.size)
    const data = this.int([...p, 'data'], a.data)
    const parity = this.int([...p, 'parity'], a.parity)
    this.unit([...p, 'parity'], () => {
      checkCode(data, parity)
      return 0
    })
    if (size < 1) this.fail([...p, 'size'], 'an archive holds at least one byte')
    const cap = a.shard === undefined ? DEFAULT_SHARD : this.size([...p, 'shard'], a.shard)
    const price = a.price === undefined ? DEFAULT_PRICE : this.int([...p, 'price'], a.price)
    return { size, data, parity, ...groupsFor(size, data, cap), price }
  }
}

/** The template's `access` (checked in template.ts): keys sorted, so one access has one encoding. */
function accessOf(a: WorkloadDecl['access']): Access {
  if (a === undefined) return DEFAULT_ACCESS
  if (a === 'public') return { public: true, keys: [], roles: [] }
  const keys: Buffer[] = []
  const roles: string[] = []
  for (const x of a) {
    if (x === 'bot' || x === 'stakeholders') roles.push(x)
    else {
      try {
        keys.push(decodeKey(x))
      } catch {
        roles.push(x)
      }
    }
  }
  return { public: false, keys: keys.sort((x, y) => x.compare(y)), roles: roles.sort() }
}

/** Hash what template.ts found each `files:` entry ships (inside the template's folder). */
async function collectFiles(
  t: Template,
  i: number
): Promise<Array<ManifestFile & { source: string }>> {
  const out: Array<ManifestFile & { source: string }> = []
  for (const f of t.shipped[i] ?? [])
    out.push({ path: f.rel, source: f.abs, ...(await hashFile(f.abs)) })
  return out
}

export interface PlanOptions {
  expiry: number
  exclude?: string[]
}

export interface PlannedBid {
  workload: string
  body: BidBody
}

/**
 * One bid per workload: a workload's replicas are all-or-none (a CRM with
 * half its replicas is not the CRM that was approved), while different
 * workloads may land on different nodes and be bought independently. An
 * archive is a bid per group: its holders all-or-none, on distinct nodes.
 */
export function planBids(m: Manifest, opts: PlanOptions): PlannedBid[] {
  return m.workloads.flatMap((w) => {
    if (w.archive === null) return [{ workload: w.name, body: bidFor(m, w, w.replicas, opts) }]
    const n = w.archive.data + w.archive.parity
    return Array.from({ length: w.archive.groups }, () => ({
      workload: w.name,
      body: bidFor(m, w, n, opts)
    }))
  })
}

/** A bid for `replicas` replicas of `w`; an archive's holders always go to distinct nodes. */
export function bidFor(
  m: Manifest,
  w: ManifestWorkload,
  replicas: number,
  opts: PlanOptions
): BidBody {
  return {
    resources: w.resources,
    replicas,
    countries: m.placement.countries,
    attributes: m.placement.attributes,
    spread: w.archive !== null || m.placement.spread,
    maxPrice: w.budget,
    duration: m.duration,
    expiry: opts.expiry,
    exclude: opts.exclude ?? []
  }
}
