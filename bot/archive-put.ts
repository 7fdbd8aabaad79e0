/**
 * `scit bot archive put`: each path (a file or a directory) becomes one
 * entry. Everything that can refuse is checked before a byte is written (the
 * path, the name, the room, enough holders); then the entry is begun in the
 * catalog, its files are read, encrypted and coded as a stream straight to
 * the holders of its groups, each segment is committed with its shards'
 * signed tree heads, and the entry's sealed metadata completes it. A put cut
 * short is removed from the catalog, so its holders drop what they took.
 */
import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import sodium from 'sodium-universal'
import { ScitError } from '../lib/errors'
import { FileHash } from '../lib/contract'
import { ErasureCode } from '../lib/archive/erasure'
import { planSegments, shardBytes, BLOCK } from '../lib/archive/layout'
import { FileSealer, cipherSize, sealMeta, MESSAGE } from '../lib/archive/seal'
import type { EntryFile, SegmentPlan } from '../lib/archive/messages'
import type { Catalog } from '../lib/archive/catalog'
import { StripeWriter, Uploader, holderWindow } from './archive-upload'
import type { ArchiveSession } from './archive-session'
import { Meter, type ProgressFn } from './archive-progress'

interface Source extends Omit<EntryFile, 'hash'> {
  abs: string
}

export interface EntryPlan {
  name: string
  root: string
  dir: boolean
  files: Source[]
  dirs: string[]
  skipped: string[]
  /** Ciphertext bytes: what the holders store before coding. */
  bytes: number
  size: number
}

export interface PutResult {
  name: string
  entry: string
  dir: boolean
  files: number
  size: number
  /** Bytes on the holders, parity included. */
  stored: number
  groups: number[]
  /** Holders that did not take their shard: they rebuild it from the others. */
  missed: number
  skipped: string[]
  replaced: boolean
  seconds: number
}

export interface PutOptions {
  /** How long to wait for holders to answer (ms). */
  reach?: number
  as?: string
  force?: boolean
  progress?: ProgressFn
}

/** What `paths` hold and what each entry is named, checked before any archive is opened. */
export function scanAll(paths: string[], as?: string): EntryPlan[] {
  if (paths.length === 0)
    throw new ScitError('INVALID_ARGUMENT', 'name at least one file or directory to put')
  if (as !== undefined && paths.length > 1)
    throw new ScitError('INVALID_ARGUMENT', `--as names one entry: ${paths.length} paths given`)
  const plans = paths.map((p) => scan(p, as))
  const dup = plans.find((p, i) => plans.findIndex((q) => q.name === p.name) !== i)
  if (dup)
    throw new ScitError(
      'INVALID_ARGUMENT',
      `two paths would both be named "${dup.name}": put them apart with --as`
    )
  return plans
}

/** Store each planned entry (scanAll); paths are scanned here when given as paths. */
export async function put(
  s: ArchiveSession,
  what: string[] | EntryPlan[],
  opts: PutOptions = {}
): Promise<PutResult[]> {
  const writer = s.requireWriter()
  const plans = what.every((x) => typeof x === 'string')
    ? scanAll(what as string[], opts.as)
    : (what as EntryPlan[])
  let catalog = await s.catalog()
  for (const stale of catalog.unfinished())
    await writer.appendArchive({ kind: 'remove', entry: stale.id })
  catalog = await s.catalog()
  const existing = await s.entries(catalog)
  for (const p of plans) {
    const old = existing.find((e) => e.meta.name === p.name)
    if (old && opts.force !== true)
      throw new ScitError(
        'EXISTS',
        `archive ${s.name} has an entry "${p.name}" already (stored ${new Date(old.meta.created).toISOString()}): --force replaces it, --as NAME stores this under another name`
      )
  }
  const free = catalog.free()
  const segments = plans.map((p) => {
    const segs = planSegments(p.bytes, free, s.code.data, BLOCK)
    for (const seg of segs) free[seg.group] -= shardBytes(seg, s.code.data)
    return segs
  })
  const out: PutResult[] = []
  for (let i = 0; i < plans.length; i++) {
    const old = existing.find((e) => e.meta.name === plans[i].name) ?? null
    out.push(await putOne(s, catalog, plans[i], segments[i], old?.entry.id ?? null, opts))
    catalog = await s.catalog()
  }
  return out
}

async function putOne(
  s: ArchiveSession,
  catalog: Catalog,
  plan: EntryPlan,
  segments: SegmentPlan[],
  replaces: Buffer | null,
  opts: PutOptions
): Promise<PutResult> {
  const writer = s.requireWriter()
  const { data: k, parity: m } = s.code
  const started = Date.now()
  const entry = b4a.alloc(32)
  sodium.randombytes_buf(entry)
  // every holder of every group used, before anything is written
  const uploaders: Uploader[][] = []
  const holders = await s.holders(
    catalog,
    segments.map((x) => x.group),
    opts.reach ?? 10_000
  )
  for (let i = 0; i < segments.length; i++) {
    const g = segments[i].group
    const channels = holders.get(g) ?? []
    const up = channels.filter((c) => c !== null).length
    if (up < k)
      throw new ScitError(
        'UNAVAILABLE',
        `only ${up} of the ${k + m} holders of group ${g} answer, ${k} are needed to store: scit bot run replaces the missing ones; try again once it has`
      )
    uploaders.push(
      channels.map(
        (c, shard) =>
          new Uploader(
            c,
            { contract: s.contract, group: g, entry, segment: i, shard },
            holderWindow(k + m)
          )
      )
    )
  }
  await writer.appendArchive({ kind: 'begin', entry, segments })
  const meter = new Meter(plan.name, plan.size, opts.progress)
  try {
    const stripes = new StripeWriter(
      new ErasureCode(k, m, BLOCK),
      segments,
      { uploaders },
      async (i) => {
        const ups = uploaders[i]
        await Promise.all(ups.map((u) => u.flush()))
        const took = ups.filter((u) => u.failed === null).length
        if (took < k)
          throw new ScitError(
            'UNAVAILABLE',
            `only ${took} of the ${k + m} holders of group ${segments[i].group} took their shard, ${k} are needed: nothing was kept`
          )
        await writer.appendArchive({ kind: 'commit', entry, segment: i, heads: stripes.heads(i) })
      }
    )
    const files: EntryFile[] = []
    for (let f = 0; f < plan.files.length; f++)
      files.push(await sealFile(s, entry, f, plan.files[f], stripes, meter))
    if (!stripes.done)
      throw new ScitError(
        'INVALID_ARGUMENT',
        `${plan.root} changed while it was being stored: put it again`
      )
    const meta = sealMeta(s.keys.catalog, {
      name: plan.name,
      dir: plan.dir,
      files,
      dirs: plan.dirs,
      created: Date.now()
    })
    await writer.appendArchive({ kind: 'meta', entry, meta: await writer.appendBytes(meta) })
    if (replaces !== null) await writer.appendArchive({ kind: 'remove', entry: replaces })
  } catch (err) {
    // its holders drop what they took; the entry never shows
    await writer.appendArchive({ kind: 'remove', entry }).catch(() => null)
    throw err
  } finally {
    meter.end()
  }
  const missed = uploaders.flat().filter((u) => u.failed !== null).length
  return {
    name: plan.name,
    entry: b4a.toString(entry, 'hex'),
    dir: plan.dir,
    files: plan.files.length,
    size: plan.size,
    stored: segments.reduce((n, seg) => n + shardBytes(seg, k) * (k + m), 0),
    groups: [...new Set(segments.map((x) => x.group))],
    missed,
    skipped: plan.skipped,
    replaced: replaces !== null,
    seconds: (Date.now() - started) / 1000
  }
}

/** One file through the sealer into the stripes, MESSAGE bytes at a time; its plaintext hash on the way. */
async function sealFile(
  s: ArchiveSession,
  entry: Buffer,
  index: number,
  f: Source,
  stripes: StripeWriter,
  meter: Meter
): Promise<EntryFile> {
  const sealer = new FileSealer(s.keys.content, entry, index, f.size)
  const hash = new FileHash()
  await stripes.write(sealer.header)
  let pending = b4a.alloc(0)
  const changed = (): ScitError =>
    new ScitError('INVALID_ARGUMENT', `${f.abs} changed while it was being stored: put it again`)
  if (f.size > 0) {
    // whole messages per read, many at a time: fewer reads, and no bytes left over to join
    for await (const chunk of fs.createReadStream(f.abs, {
      highWaterMark: 16 * MESSAGE,
      end: f.size - 1
    })) {
      pending =
        pending.byteLength === 0 ? (chunk as Buffer) : b4a.concat([pending, chunk as Buffer])
      while (pending.byteLength >= MESSAGE && hash.size + MESSAGE < f.size) {
        const msg = pending.subarray(0, MESSAGE)
        pending = pending.subarray(MESSAGE)
        hash.update(msg)
        await stripes.write(sealer.push(msg))
        meter.add(msg.byteLength)
      }
    }
  }
  if (hash.size + pending.byteLength !== f.size) throw changed()
  hash.update(pending)
  await stripes.write(sealer.push(pending))
  meter.add(pending.byteLength)
  return { path: f.path, size: f.size, hash: hash.digest(), mode: f.mode, mtime: f.mtime }
}

/** What a path holds, checked before anything is stored. */
export function scan(p: string, as?: string): EntryPlan {
  const root = path.resolve(p)
  let st: fs.Stats
  try {
    st = fs.statSync(root)
  } catch {
    throw new ScitError('NOT_FOUND', `no such file or directory: ${p}`)
  }
  const name = as ?? path.basename(root)
  if (name === '' || name.length > 255 || /[/\0]/.test(name) || name === '.' || name === '..')
    throw new ScitError(
      'INVALID_ARGUMENT',
      `"${name}" cannot name an entry: at most 255 characters, no "/"`
    )
  const plan: EntryPlan = {
    name,
    root,
    dir: st.isDirectory(),
    files: [],
    dirs: [],
    skipped: [],
    bytes: 0,
    size: 0
  }
  if (!plan.dir) {
    if (!st.isFile())
      throw new ScitError('INVALID_ARGUMENT', `${p} is neither a file nor a directory`)
    plan.files.push(fileOf(root, '', st))
  } else walk(root, '', plan)
  plan.bytes = plan.files.reduce((n, f) => n + cipherSize(f.size), 0)
  plan.size = plan.files.reduce((n, f) => n + f.size, 0)
  return plan
}

function fileOf(abs: string, rel: string, st: fs.Stats): Source {
  return { abs, path: rel, size: st.size, mode: st.mode & 0o777, mtime: Math.floor(st.mtimeMs) }
}

/** Files and folders in name order; links and devices are skipped and said so (the archive keeps bytes, not links). */
function walk(abs: string, rel: string, plan: EntryPlan): void {
  for (const name of fs.readdirSync(abs).sort()) {
    const a = path.join(abs, name)
    const r = rel === '' ? name : `${rel}/${name}`
    const st = fs.lstatSync(a)
    if (st.isDirectory()) {
      plan.dirs.push(r)
      walk(a, r, plan)
    } else if (st.isFile()) plan.files.push(fileOf(a, r, st))
    else plan.skipped.push(r)
  }
}
