/**
 * The one way scit opens a data directory. It holds secrets (identity key,
 * Corestore primary keys), so it is made owner-only: created 0700, an exposed
 * dir and its entries tightened with a warning (search-only dirs left, see
 * `allowTraverse`), and umask 077 so files RocksDB creates later are private too.
 * identity.json is never fixed silently: lib/identity refuses it for a person to decide.
 */
import fs from 'fs'
import path from 'path'
import { ScitError } from './errors'
import { logger } from './log'

const log = logger('datadir')

export const PRIVATE_UMASK = 0o077
/** Left for lib/identity to refuse (never silently fixed). */
const UNTOUCHED = new Set(['identity.json'])

/** What scit writes at the top of a data dir: one of them (or nothing at all) makes a folder a data dir. */
const MARKS = [
  'identity.json',
  'config.json',
  'node-state.json',
  'results.json',
  'corestore',
  'market/CORESTORE',
  'bot/state.json',
  'bot/corestore'
]

/**
 * Empty, or holding something scit wrote. `--data ./bot` in a checkout once
 * named a folder of source files, and tightening it made them all 0600.
 */
function isDataDir(abs: string, names: string[]): boolean {
  if (names.length === 0) return true
  const have = new Set(names)
  return MARKS.some((m) => have.has(m.split('/')[0]) && lstat(path.join(abs, m)) !== null)
}

/** Make every file and dir this process creates from now on owner-only (umask |= 077). */
export function restrictUmask(): void {
  // Bare has no umask: there the modes are explicit (identity 0600, stores in 0700 dirs, see privateDir).
  if (typeof process.umask !== 'function') return
  const old = process.umask(PRIVATE_UMASK)
  if ((old | PRIVATE_UMASK) !== PRIVATE_UMASK) process.umask(old | PRIVATE_UMASK)
}

/**
 * A store's directory under a data dir, created owner-only: what the store
 * writes inside it stays private even where no umask applies (Bare).
 */
export function privateDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  return dir
}

/** Can group or others read or write it? (search-only reveals nothing) */
function exposed(mode: number): boolean {
  return (mode & 0o066) !== 0
}

/** Returns the absolute path; with `create: false` a missing dir is an error. */
export function openDataDir(dir: string, opts: { create?: boolean } = {}): string {
  restrictUmask()
  const abs = path.resolve(dir)
  let st = stat(abs)
  if (st === null) {
    if (opts.create === false) throw new ScitError('NOT_FOUND', `no data directory ${abs}`)
    fs.mkdirSync(abs, { recursive: true, mode: 0o700 })
    st = fs.statSync(abs)
  }
  if (!st.isDirectory())
    throw new ScitError('INVALID_CONFIG', `data directory ${abs} is not a directory`)
  const names = fs.readdirSync(abs)
  if (!isDataDir(abs, names))
    throw new ScitError(
      'INVALID_CONFIG',
      `${abs} is not a scit data directory: it holds ${names.length} other entries (${names.slice(0, 4).join(', ')}${names.length > 4 ? ', …' : ''}) and none of scit's (${MARKS.join(', ')}). A data dir holds keys, so scit makes it and all it holds owner-only: it will not do that to a folder of other files. Give --data a new or empty folder`
    )
  tighten(abs, st)
  for (const name of names) {
    if (UNTOUCHED.has(name)) continue
    const p = path.join(abs, name)
    const e = lstat(p)
    if (e !== null && !e.isSymbolicLink()) tighten(p, e)
  }
  return abs
}

/** Let others search (not list) the data dir: the sandbox user must pass through it to its work dirs. */
export function allowTraverse(dir: string): void {
  const mode = fs.statSync(dir).mode & 0o777
  if ((mode & 0o011) === 0o011) return
  fs.chmodSync(dir, (mode & 0o700) | 0o011)
  log.info('the sandbox user may now search (not list) the data dir to reach its work dirs', {
    dir
  })
}

function tighten(p: string, st: fs.Stats): void {
  const mode = st.mode & 0o777
  if (!exposed(mode) && (st.isDirectory() || (mode & 0o077) === 0)) return
  const next = mode & 0o700
  try {
    fs.chmodSync(p, next)
  } catch (err) {
    throw new ScitError(
      'KEYSTORE',
      `${p} is mode ${mode.toString(8)}: group or others can read it, and it could not be made owner-only (${(err as Error).message}); chmod ${next.toString(8)} ${p}`
    )
  }
  log.warn(
    `${p} was mode ${mode.toString(8)}: group or others could read it; now ${next.toString(8)}`
  )
}

function stat(p: string): fs.Stats | null {
  try {
    return fs.statSync(p)
  } catch {
    return null
  }
}

function lstat(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p)
  } catch {
    return null
  }
}

/**
 * A small file of a data dir, read whole after checking it is one: null when
 * it is absent; else its text, or why it cannot be read (not a regular file,
 * larger than `max`, unreadable), for the caller to raise with its own code.
 */
export function readDataFile(file: string, max: number): { text: string } | { why: string } | null {
  if (notRegular(file)) return { why: 'is not a regular file' }
  let fd: number
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'ENOENT') return null
    if (code === 'ENOTDIR') return { why: `${path.dirname(file)} is not a directory` }
    return { why: `cannot read it (${(err as Error).message})` }
  }
  try {
    const st = fs.fstatSync(fd)
    if (!st.isFile()) return { why: 'is not a regular file' }
    if (st.size > max) return { why: `is ${st.size} bytes: at most ${max}` }
    const buf = Buffer.alloc(st.size)
    const n = st.size === 0 ? 0 : fs.readSync(fd, buf, 0, st.size, 0)
    return { text: buf.subarray(0, n).toString('utf8') }
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Whether `file` exists and is not a regular file, asked before opening it:
 * Bare's fs has no O_NONBLOCK, and opening a pipe there would block. The
 * caller checks the opened file again (fstat): this is not the guard, only
 * what keeps the open from hanging.
 */
export function notRegular(file: string): boolean {
  try {
    return !fs.statSync(file).isFile()
  } catch {
    return false // absent or unreadable: the open says which
  }
}

/** `text` in `file` (0600), durably and atomically: a crash leaves the old content or the new, never half. */
export function writeDurably(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`
  const fd = fs.openSync(tmp, 'w', 0o600)
  try {
    fs.writeSync(fd, text)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(tmp, file)
  const dir = fs.openSync(path.dirname(file), 'r')
  try {
    fs.fsyncSync(dir) // the rename itself
  } finally {
    fs.closeSync(dir)
  }
}
