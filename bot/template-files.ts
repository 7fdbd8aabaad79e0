/**
 * A template sees only its own folder. Templates come from strangers (the
 * market publishes them, people share them), and what `files:` names is
 * shipped to nodes: so every entry must resolve, after `..`, `~`, absolute
 * paths and symbolic links anywhere on the way (a link inside the folder
 * included), to a regular file or folder inside the folder that holds the
 * template file. Both the check (template.ts) and the hashing (manifest.ts)
 * go through `shippedFiles`, so what is hashed is what was checked.
 */
import fs from 'fs'
import path from 'path'

/** Bounds the walk: links to folders inside the folder could otherwise multiply it without end. */
export const MAX_ENTRIES = 100_000

/** Why an entry is refused; the caller puts it at the entry's file:line:col. */
export class FolderError extends Error {}

/** The folder a template sees: where the template file really is (a link to it does not widen it). */
export function templateFolder(file: string): string {
  try {
    return path.dirname(fs.realpathSync(file))
  } catch {
    return path.dirname(path.resolve(file))
  }
}

export interface ShippedFile {
  /** Where it lands in the work dir: a file under its own name, a folder's files by their path inside it. */
  rel: string
  /** Its path in the template's folder, `/`-separated, as the template names it (links not resolved): what publishing carries. */
  from: string
  /** Its real path on this machine, inside the template's folder. */
  abs: string
}

/** The regular files one `files:` entry ships, sorted by `rel`; throws FolderError. */
export function shippedFiles(folder: string, entry: string): ShippedFile[] {
  const root = realpath(folder) ?? folder
  const { lexical, real } = resolveEntry(root, entry)
  const named = path.relative(root, lexical).split(path.sep).join('/')
  const st = fs.statSync(real)
  if (st.isFile()) return [{ rel: path.basename(lexical), from: named, abs: real }]
  if (!st.isDirectory())
    throw new FolderError(`"${entry}" is not a regular file or a folder (a device, pipe or socket)`)
  const out: Array<Omit<ShippedFile, 'from'>> = []
  walk(root, entry, real, '', new Set([real]), out, { left: MAX_ENTRIES })
  return out.map((f) => ({ ...f, from: named ? `${named}/${f.rel}` : f.rel }))
}

function resolveEntry(root: string, entry: string): { lexical: string; real: string } {
  const leaves = `"${entry}" leaves the template's folder`
  if (entry.startsWith('~'))
    throw new FolderError(`${leaves}: "~" is a home directory; name files relative to the template`)
  if (path.isAbsolute(entry))
    throw new FolderError(`${leaves}: name files relative to the template, not absolute`)
  const lexical = path.resolve(root, entry)
  if (!within(root, lexical)) throw new FolderError(`${leaves} (it names ${lexical})`)
  const real = realpath(lexical)
  if (real === null) throw new FolderError(`"${entry}" does not exist (looked in ${root})`)
  if (!within(root, real)) throw new FolderError(`${leaves}: a link on its path leads to ${real}`)
  return { lexical, real }
}

/** Depth-first, in name order; links are followed only while they stay inside the folder, never twice into one folder. */
function walk(
  root: string,
  entry: string,
  dir: string,
  rel: string,
  seen: Set<string>,
  out: Array<Omit<ShippedFile, 'from'>>,
  budget: { left: number }
): void {
  const names = fs.readdirSync(dir).sort()
  for (const name of names) {
    if (--budget.left < 0)
      throw new FolderError(
        `"${entry}" holds more than ${MAX_ENTRIES} files and folders (links included): ship an archive of them instead`
      )
    const shown = path.join(entry, rel, name)
    const here = path.join(dir, name)
    let abs = here
    const link = fs.lstatSync(here).isSymbolicLink()
    if (link) {
      const real = realpath(here)
      if (real === null)
        throw new FolderError(`"${entry}": ${shown} is a link to nothing (${readlink(here)})`)
      if (!within(root, real))
        throw new FolderError(
          `"${entry}" leaves the template's folder: ${shown} is a link to ${real}`
        )
      abs = real
    }
    const st = fs.statSync(abs)
    const to = rel ? `${rel}/${name}` : name
    if (st.isFile()) out.push({ rel: to, abs })
    else if (st.isDirectory()) {
      if (seen.has(abs))
        throw new FolderError(`"${entry}": ${shown} is a link back to a folder it is in (a loop)`)
      seen.add(abs)
      walk(root, entry, abs, to, seen, out, budget)
      seen.delete(abs)
    } else
      throw new FolderError(
        `"${entry}": ${shown} is not a regular file or a folder (a device, pipe or socket)`
      )
  }
}

function within(root: string, p: string): boolean {
  const rel = path.relative(root, p)
  return rel === '' || (!rel.startsWith('..' + path.sep) && rel !== '..' && !path.isAbsolute(rel))
}

function realpath(p: string): string | null {
  try {
    return fs.realpathSync(p)
  } catch {
    return null
  }
}

function readlink(p: string): string {
  try {
    return fs.readlinkSync(p)
  } catch {
    return '?'
  }
}
