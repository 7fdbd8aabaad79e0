/**
 * The one way scit opens a data directory. A data dir holds secrets: the
 * identity key (identity.json) and Corestores, whose primary key every
 * writable core (status, logs, contract cores, the ledger writer) is derived
 * from. So nothing in it may be readable by group or others:
 *
 * - a new dir is created 0700;
 * - an existing one that group or others can read or write (a `mkdir
 *   /var/lib/scit` under the usual umask is 0755) is tightened to owner-only,
 *   with a warning, and so is each entry directly in it: below a dir only its
 *   owner can enter, nothing is reachable. A search-only dir (x, no r or w),
 *   which lists nothing, is left as it is: the node makes its data dir and its
 *   workloads root that, when the sandbox user must reach its work dirs
 *   through them (`allowTraverse`);
 * - the process umask becomes 077, so every file created from then on, by
 *   scit or by the libraries it uses (RocksDB under Corestore creates and
 *   rotates files with 0644 as long as the store is open), is owner-only. A
 *   chmod after the fact would miss every file a store creates later.
 *
 * Tightening rather than refusing: the directory is ours and owner-only is
 * what scit needs, so refusing would only make the README's setup fail on a
 * fix scit can make itself. The identity file is the exception: one that
 * others could read may already have been copied, and lib/identity refuses it
 * for a person to decide.
 */
import fs from 'fs'
import path from 'path'
import { ScitError } from './errors'
import { logger } from './log'

const log = logger('datadir')

export const PRIVATE_UMASK = 0o077
/** Left for lib/identity to refuse (never silently fixed). */
const UNTOUCHED = new Set(['identity.json'])

/** Make every file and dir this process creates from now on owner-only (umask |= 077). */
export function restrictUmask (): void {
  const old = process.umask(PRIVATE_UMASK)
  if ((old | PRIVATE_UMASK) !== PRIVATE_UMASK) process.umask(old | PRIVATE_UMASK)
}

/** Can group or others read or write it? (A search-only bit lists nothing and writes nothing.) */
function exposed (mode: number): boolean {
  return (mode & 0o066) !== 0
}

/**
 * Create `dir` (0700) or check and tighten an existing one, and restrict the
 * umask. Returns the absolute path. `create: false`: a missing dir is an error.
 */
export function openDataDir (dir: string, opts: { create?: boolean } = {}): string {
  restrictUmask()
  const abs = path.resolve(dir)
  let st = stat(abs)
  if (st === null) {
    if (opts.create === false) throw new ScitError('NOT_FOUND', `no data directory ${abs}`)
    fs.mkdirSync(abs, { recursive: true, mode: 0o700 })
    st = fs.statSync(abs)
  }
  if (!st.isDirectory()) throw new ScitError('INVALID_CONFIG', `data directory ${abs} is not a directory`)
  tighten(abs, st)
  for (const name of fs.readdirSync(abs)) {
    if (UNTOUCHED.has(name)) continue
    const p = path.join(abs, name)
    const e = lstat(p)
    if (e !== null && !e.isSymbolicLink()) tighten(p, e)
  }
  return abs
}

/**
 * Let others search (not list, not write) `dir`, a data dir the node's work
 * dirs live under: the sandbox user must pass through it to reach its own.
 */
export function allowTraverse (dir: string): void {
  const mode = fs.statSync(dir).mode & 0o777
  if ((mode & 0o011) === 0o011) return
  fs.chmodSync(dir, (mode & 0o700) | 0o011)
  log.info('the sandbox user may now search (not list) the data dir to reach its work dirs', { dir })
}

function tighten (p: string, st: fs.Stats): void {
  const mode = st.mode & 0o777
  if (!exposed(mode) && (st.isDirectory() || (mode & 0o077) === 0)) return
  const next = mode & 0o700
  try {
    fs.chmodSync(p, next)
  } catch (err) {
    throw new ScitError('KEYSTORE', `${p} is mode ${mode.toString(8)}: group or others can read it, and it could not be made owner-only (${(err as Error).message}); chmod ${next.toString(8)} ${p}`)
  }
  log.warn(`${p} was mode ${mode.toString(8)}: group or others could read it; now ${next.toString(8)}`)
}

function stat (p: string): fs.Stats | null {
  try { return fs.statSync(p) } catch { return null }
}

function lstat (p: string): fs.Stats | null {
  try { return fs.lstatSync(p) } catch { return null }
}
