/**
 * Contract templates: load a YAML (or JSON) file, check its shape and every
 * expression, and report each problem at its `file:line:col`. A template that
 * loads is known to instantiate for any parameter values within bounds, bar
 * the errors only values can cause (division by zero, a fraction where a
 * whole number is needed), which instantiate() reports at the same places.
 */
import path from 'path'
import { Document, isMap, isPair, isScalar, isNode } from 'yaml'
import { readTemplateFile, readYaml } from './template-yaml'
import { ScitError } from '../lib/errors'
import { decodeKey } from '../lib/keys'
import { parseSize } from '../lib/resources'
import { isSafePath, clashingPaths } from '../lib/work-paths'
import { templateFolder, shippedFiles, FolderError, ShippedFile } from './template-files'
import { schemaProblems } from './template-schema'
import { formatPath } from '../lib/schema'
import {
  compile,
  check,
  Compiled,
  ExpressionError,
  hasExpressions,
  Value,
  rat
} from './expressions'
import {
  allows,
  kindEntry,
  kindsAllowing,
  KIND_FIELDS,
  type KindField
} from '../lib/workload-kinds'
import type { TemplateDoc, ParameterDecl, WorkloadDecl } from './template-types'

export type { TemplateDoc, WorkloadDecl, ParameterDecl, Expr } from './template-types'

export type Path = Array<string | number>
export interface Problem {
  file: string
  line: number
  col: number
  path: string
  message: string
}

/** Problems printed; `.problems` keeps them all. */
const MAX_SHOWN = 50

/** A TEMPLATE error listing every problem found, each on its own `file:line:col: message` line. */
export class TemplateError extends ScitError {
  readonly problems: Problem[]
  constructor(problems: Problem[]) {
    problems = [...problems].sort((a, b) =>
      a.file === b.file ? a.line - b.line || a.col - b.col : 0
    )
    const shown = problems
      .slice(0, MAX_SHOWN)
      .map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`)
    if (problems.length > MAX_SHOWN)
      shown.push(`… and ${problems.length - MAX_SHOWN} more problems`)
    super('TEMPLATE', shown.join('\n'))
    this.problems = problems
  }
}

export type ParamValue = number | string | boolean

export interface Parameter {
  name: string
  decl: ParameterDecl
  default: ParamValue | null
  min: number | null
  max: number | null
}

export interface Template {
  file: string
  /** The folder it sees: every file it ships is inside (template-files.ts). */
  dir: string
  /** Per workload, what its `files:` ship, checked inside `dir`. */
  shipped: ShippedFile[][]
  doc: TemplateDoc
  parameters: Map<string, Parameter>
  /** Compiled strings, by formatPath() of where they sit. */
  expressions: Map<string, Compiled>
  src: string
  at(p: Path, offset?: number, key?: boolean): { line: number; col: number }
  problem(p: Path, message: string, offset?: number, key?: boolean): Problem
}

/** Fields whose strings are literal text: a `${` there is a mistake, not an expression. */
const LITERAL = new Set(['name', 'version', 'description', 'parameters', 'stakeholders'])
const WORKLOAD_LITERAL = new Set([
  'name',
  'kind',
  'description',
  'files',
  'restart',
  'output',
  'access',
  'state'
])

/** `folder`: the one it sees, when not the file's own (a published template's files are unpacked beside it). */
export function loadTemplate(file: string, folder?: string): Template {
  const read = readTemplateFile(file)
  if ('why' in read) throw new ScitError(read.code, read.why)
  return parseTemplate(read.src, file, folder)
}

export function parseTemplate(src: string, file: string, folder = templateFolder(file)): Template {
  // as the user would type it: relative when under the working directory
  const rel = path.relative(process.cwd(), file)
  const shown = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file
  const read = readYaml(src)
  const lines = read.lines
  if (!read.ok)
    throw new TemplateError(
      read.problems.map((e) => ({
        file: shown,
        ...lines.linePos(e.offset),
        path: '',
        message: e.message
      }))
    )
  const { ydoc } = read
  const doc = read.doc as TemplateDoc
  const at = (p: Path, offset = 0, key = false): { line: number; col: number } =>
    lines.linePos(offsetOf(ydoc, p, key) + offset)
  const problem = (p: Path, message: string, offset = 0, key = false): Problem => ({
    file: shown,
    ...at(p, offset, key),
    path: formatPath(p),
    message
  })

  const shape = schemaProblems(doc)
  if (shape.length) throw new TemplateError(shape.map((s) => problem(s.path, s.message, 0, s.key)))

  const t: Template = {
    file: path.resolve(file),
    dir: folder,
    shipped: [],
    doc,
    src,
    parameters: new Map(),
    expressions: new Map(),
    at,
    problem
  }
  const problems: Problem[] = []
  const guard = (fn: () => void): void => {
    try {
      fn()
    } catch (err) {
      if (err instanceof TemplateError) problems.push(...err.problems)
      else throw err
    }
  }
  for (const [name, decl] of Object.entries(doc.parameters ?? {}))
    guard(() => t.parameters.set(name, parameter(t, name, decl)))
  const names = new Set(t.parameters.keys())
  walkStrings(doc, [], (p, text) => guard(() => compileAt(t, p, text, names)))
  guard(() => checkWorkloads(t))
  guard(() => checkStakeholders(t))
  if (problems.length) throw new TemplateError(problems)
  return t
}

/** The source offset of the value at `p` (of its key, with `key`); for a key that is not there, of its parent. */
function offsetOf(doc: Document, p: Path, key: boolean): number {
  let node: unknown = doc.contents
  let best = 0
  for (let i = 0; i < p.length; i++) {
    const seg = p[i]
    if (!isNode(node)) break
    if (node.range) best = node.range[0]
    if (isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && it.key.value === seg)
      if (!pair) return best
      // a key that the schema refuses is reported at the key itself
      if (isScalar(pair.key) && pair.key.range) best = pair.key.range[0]
      if (key && i === p.length - 1) return best
      node = pair.value
    } else if (
      'items' in node &&
      Array.isArray((node as { items: unknown[] }).items) &&
      typeof seg === 'number'
    ) {
      node = (node as { items: unknown[] }).items[seg]
    } else return best
  }
  return isNode(node) && node.range ? node.range[0] : best
}

function parameter(t: Template, name: string, decl: ParameterDecl): Parameter {
  const p: Path = ['parameters', name]
  const err = (field: string, msg: string): never => {
    throw new TemplateError([t.problem([...p, field], `parameter ${name}: ${msg}`)])
  }
  const out: Parameter = { name, decl, default: null, min: null, max: null }
  if (decl.type === 'enum' && !decl.values) err('type', 'an enum needs "values"')
  if (decl.type !== 'enum' && decl.values)
    err('values', `"values" is only for enums, not ${decl.type}`)
  for (const f of ['min', 'max'] as const) {
    const v = decl[f]
    if (v === undefined) continue
    if (decl.type !== 'int' && decl.type !== 'size')
      err(f, `"${f}" is only for int and size parameters`)
    out[f] =
      decl.type === 'size'
        ? sizeOr(v, () => err(f, `${JSON.stringify(v)} is not a size`))
        : typeof v === 'number'
          ? v
          : err(f, `${f} must be a whole number`)
  }
  if (decl.pattern !== undefined) {
    if (decl.type !== 'string') err('pattern', '"pattern" is only for string parameters')
    try {
      new RegExp(decl.pattern)
    } catch {
      err('pattern', `"${decl.pattern}" is not a regular expression`)
    }
  }
  if (out.min !== null && out.max !== null && out.min > out.max)
    err('min', `min ${out.min} is above max ${out.max}`)
  if (decl.default !== undefined) {
    try {
      out.default = coerce(out, decl.default)
    } catch (e) {
      if (e instanceof ScitError) err('default', `default ${e.message}`)
      throw e
    }
  }
  return out
}

function sizeOr(v: string | number, fail: () => never): number {
  try {
    return parseSize(v)
  } catch {
    return fail()
  }
}

/** Turn a value (from the template or `--set k=v` text) into the parameter's type, within bounds. */
export function coerce(p: Parameter, raw: ParamValue): ParamValue {
  const bad = (msg: string): never => {
    throw new ScitError('TEMPLATE', msg)
  }
  let v: ParamValue
  switch (p.decl.type) {
    case 'int':
      v =
        typeof raw === 'number'
          ? raw
          : /^-?\d+$/.test(String(raw).trim())
            ? Number(String(raw).trim())
            : bad(`${JSON.stringify(raw)} is not a whole number`)
      if (!Number.isSafeInteger(v)) bad(`${JSON.stringify(raw)} is not a whole number`)
      break
    case 'size':
      v =
        typeof raw === 'boolean'
          ? bad('true/false is not a size')
          : sizeOr(raw, () => bad(`${JSON.stringify(raw)} is not a size (e.g. 500GiB, 2TB)`))
      break
    case 'bool':
      v =
        typeof raw === 'boolean'
          ? raw
          : raw === 'true'
            ? true
            : raw === 'false'
              ? false
              : bad(`${JSON.stringify(raw)} is not true or false`)
      break
    case 'enum':
      v = String(raw)
      if (!p.decl.values?.includes(v))
        bad(`${JSON.stringify(raw)} is not one of ${p.decl.values?.join(', ')}`)
      break
    default:
      if (typeof raw !== 'string') bad(`${JSON.stringify(raw)} is not a string`)
      v = String(raw)
      if (p.decl.pattern !== undefined && !new RegExp(p.decl.pattern).test(v))
        bad(`${JSON.stringify(v)} does not match ${p.decl.pattern}`)
  }
  if (typeof v === 'number') {
    if (p.min !== null && v < p.min) bad(`${v} is below the minimum ${p.min}`)
    if (p.max !== null && v > p.max) bad(`${v} is above the maximum ${p.max}`)
  }
  return v
}

/**
 * Resolve every parameter: `--set` values (text) over defaults. Each problem is
 * located at the parameter's declaration, since that is where its bounds are.
 */
export function resolveParams(
  t: Template,
  set: Record<string, ParamValue> = {}
): { values: Record<string, ParamValue>; scope: Map<string, Value> } {
  const problems: Problem[] = []
  for (const k of Object.keys(set)) {
    if (!t.parameters.has(k))
      problems.push(
        t.problem(
          ['parameters'],
          `unknown parameter "${k}" (declared: ${[...t.parameters.keys()].join(', ') || 'none'})`
        )
      )
  }
  const values: Record<string, ParamValue> = {}
  const scope = new Map<string, Value>()
  for (const [name, p] of t.parameters) {
    try {
      const raw = Object.prototype.hasOwnProperty.call(set, name) ? set[name] : p.default
      if (raw === null)
        throw new ScitError('TEMPLATE', 'has no default: set it with --set ' + name + '=…')
      const v = coerce(p, raw)
      values[name] = v
      scope.set(name, typeof v === 'number' ? rat(BigInt(v)) : v)
    } catch (err) {
      if (!(err instanceof ScitError)) throw err
      problems.push(t.problem(['parameters', name], `parameter ${name} ${err.message}`))
    }
  }
  if (problems.length) throw new TemplateError(problems)
  return { values, scope }
}

function walkStrings(v: unknown, p: Path, fn: (p: Path, text: string) => void): void {
  if (p.length === 1 && LITERAL.has(String(p[0]))) return
  if (p.length >= 1 && p[0] === 'workloads' && p.length === 3 && WORKLOAD_LITERAL.has(String(p[2])))
    return
  if (p.length === 4 && p[0] === 'workloads' && p[2] === 'mirror' && p[3] === 'source') return
  if (typeof v === 'string') fn(p, v)
  else if (Array.isArray(v)) v.forEach((x, i) => walkStrings(x, [...p, i], fn))
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) walkStrings(x, [...p, k], fn)
}

function compileAt(t: Template, p: Path, text: string, names: ReadonlySet<string>): void {
  try {
    const c = compile(text)
    check(c, names)
    if (hasExpressions(c)) t.expressions.set(formatPath(p), c)
  } catch (err) {
    if (!(err instanceof ExpressionError)) throw err
    throw new TemplateError([
      t.problem(p, `${formatPath(p)}: ${err.message}`, columnShift(t, p, err.offset))
    ])
  }
}

/** Point inside a single-line scalar at the expression, when the source text allows it. */
export function columnShift(t: Template, p: Path, offset: number): number {
  const pos = t.at(p)
  const line = t.src.split('\n')[pos.line - 1] ?? ''
  const quoted = line[pos.col - 1] === '"' || line[pos.col - 1] === "'"
  return offset + (quoted ? 1 : 0)
}

function checkWorkloads(t: Template): void {
  const problems: Problem[] = []
  const seen = new Set<string>()
  t.doc.workloads.forEach((w, i) => {
    const at = workloadAt(t, w, i, problems)
    if (seen.has(w.name)) at.problem('name', `workloads[${i}].name "${w.name}" is used twice`)
    seen.add(w.name)
    checkKindFields(at, w)
    at.forbid('egress', EGRESS)
    checkAccess(at, w, t.doc.stakeholders?.signers ?? [])
    checkState(at, w)
    checkEnv(at, w)
    checkOutput(at, w)
    checkMirrorSource(at, w)
    checkArchive(at, w)
    t.shipped[i] = checkFiles(at, t, w)
  })
  if (problems.length) throw new TemplateError(problems)
}

const EGRESS =
  'is refused: a workload runs in its own network namespace with no route out (no internet, no LAN, no host); ship what it needs in its files, and reach it through its ports only (scit connect)'

/** Where one workload's problems go: `problem` at a path under it, `forbid` a field it gave. */
interface WorkloadAt {
  name: string
  problem(p: Path | keyof WorkloadDecl, message: string, key?: boolean): void
  forbid(field: keyof WorkloadDecl, why: string): void
}

function workloadAt(t: Template, w: WorkloadDecl, i: number, problems: Problem[]): WorkloadAt {
  const base: Path = ['workloads', i]
  const problem = (p: Path | keyof WorkloadDecl, message: string, key = false): void => {
    problems.push(t.problem([...base, ...(Array.isArray(p) ? p : [p])], message, 0, key))
  }
  return {
    name: `workloads[${i}]`,
    problem,
    forbid(field, why) {
      if (w[field] !== undefined) problem(field, `workloads[${i}].${field} ${why}`)
    }
  }
}

/** What a template is told of a field its kind needs but it left out. */
const NEEDED: Partial<Record<KindField, string>> = {
  command: 'a "command" (an argv array, run without a shell)',
  mirror: '"mirror: { size }"',
  archive: '"archive: { size, data, parity }"'
}

/** The kind's entry (lib/workload-kinds.ts) says which fields it needs and which it may give. */
function checkKindFields(at: WorkloadAt, w: WorkloadDecl): void {
  const kind = kindEntry(w.kind)
  for (const field of kind.needs)
    if (w[field] === undefined)
      at.problem(
        'kind',
        `${at.name}: ${article(w.kind)} ${w.kind} needs ${NEEDED[field] ?? `"${field}"`}`
      )
  for (const field of KIND_FIELDS) {
    if (allows(w.kind, field)) continue
    if (field === 'command')
      at.forbid(
        field,
        `is not allowed for ${article(w.kind)} ${w.kind} (nodes keep the data, they run nothing)`
      )
    else {
      const why = field === 'access' ? ' (who may connect to their ports)' : ''
      at.forbid(field, `is only for ${kindsAllowing(field)}${why}, not ${w.kind}s`)
    }
  }
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a'
}

function checkAccess(at: WorkloadAt, w: WorkloadDecl, signers: Array<{ role: string }>): void {
  if (!Array.isArray(w.access)) return
  const roles = new Set(signers.map((x) => x.role))
  w.access.forEach((a, j) => {
    if (a === 'bot' || a === 'stakeholders' || roles.has(a)) return
    try {
      decodeKey(a, 'access key')
    } catch {
      at.problem(
        ['access', j],
        `${at.name}.access: "${a}" is not a key (z-base-32), bot, stakeholders, or a stakeholder role (${[...roles].join(', ') || 'none declared'})`
      )
    }
  })
}

function checkState(at: WorkloadAt, w: WorkloadDecl): void {
  if (w.state === undefined) at.forbid('stateInterval', 'goes with "state"')
  ;(w.state ?? []).forEach((s, j) => {
    const why = workPathProblem(s.replace(/\/+$/, ''))
    if (why) at.problem(['state', j], `${at.name}.state "${s}" ${why}`)
  })
}

/** The node sets PORT / PORT_<port>: the declared port in the service's namespace. */
function checkEnv(at: WorkloadAt, w: WorkloadDecl): void {
  for (const k of Object.keys(w.env ?? {})) {
    if (/^PORT(_|$)/.test(k))
      at.problem(
        ['env', k],
        `${at.name}.env.${k}: PORT and PORT_* are set by the node from "ports"`,
        true
      )
  }
}

function checkOutput(at: WorkloadAt, w: WorkloadDecl): void {
  if (w.output === undefined) at.forbid('retain', 'goes with "output"')
  const why = w.output === undefined ? null : workPathProblem(w.output)
  if (why) at.problem('output', `${at.name}.output "${w.output}" ${why}`)
}

function checkMirrorSource(at: WorkloadAt, w: WorkloadDecl): void {
  if (w.mirror?.source === undefined) return
  try {
    decodeKey(w.mirror.source, 'mirror source')
  } catch (err) {
    at.problem(['mirror', 'source'], (err as Error).message)
  }
}

/** An archive's holders, their disk and their count are planned (lib/archive/groups.ts), not written. */
function checkArchive(at: WorkloadAt, w: WorkloadDecl): void {
  if (w.archive === undefined) return
  const planned = 'is planned for an archive: a lease per shard of each group, as large as a shard'
  at.forbid('resources', planned)
  at.forbid('replicas', planned)
  at.forbid('files', 'is not for an archive: files go in with scit bot archive put')
}

/** A path on the node, inside the workload's work dir; why not, or null. */
function workPathProblem(p: string): string | null {
  if (isSafePath(p) && !p.startsWith('~')) return null
  return "leaves the workload's work dir: name a path relative to it, with no .. (e.g. data/db.json)"
}

/** Every file the workload ships, inside the template's folder, each with a name of its own in the work dir. */
function checkFiles(at: WorkloadAt, t: Template, w: WorkloadDecl): ShippedFile[] {
  const out: ShippedFile[] = []
  const entryOf = new Map<string, number>()
  ;(w.files ?? []).forEach((entry, j) => {
    try {
      for (const f of shippedFiles(t.dir, entry)) {
        if (!isSafePath(f.rel))
          at.problem(['files', j], `${at.name}: "${f.rel}" cannot be a file name on a node`)
        out.push(f)
        entryOf.set(f.rel, j)
      }
    } catch (err) {
      if (!(err instanceof FolderError)) throw err
      at.problem(['files', j], `${at.name}.files[${j}] ${err.message}`)
    }
  })
  const clash = clashingPaths(out.map((f) => f.rel))
  if (clash)
    at.problem(
      ['files', entryOf.get(clash[1]) ?? 0],
      `${at.name}: "${clash[0]}" and "${clash[1]}" would land on one file in the work dir`
    )
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0))
}

function checkStakeholders(t: Template): void {
  const s = t.doc.stakeholders
  if (!s) return
  const problems: Problem[] = []
  const keys = new Set<string>()
  let total = 0
  s.signers.forEach((sig, i) => {
    const p: Path = ['stakeholders', 'signers', i, 'key']
    try {
      const hex = decodeKey(sig.key, `stakeholders.signers[${i}].key`).toString('hex')
      if (keys.has(hex))
        problems.push(t.problem(p, `stakeholders.signers[${i}]: the same key is listed twice`))
      keys.add(hex)
    } catch (err) {
      problems.push(t.problem(p, (err as Error).message))
    }
    total += sig.weight ?? 1
  })
  if (s.threshold > total)
    problems.push(
      t.problem(
        ['stakeholders', 'threshold'],
        `stakeholders.threshold ${s.threshold} can never be reached: the weights add up to ${total}`
      )
    )
  if (problems.length) throw new TemplateError(problems)
}
