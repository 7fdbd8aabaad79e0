/**
 * Published templates carry their files: the author's CLI packs the document
 * and every file its workloads ship (by path in its folder); a bot deploying
 * it by name unpacks them into a folder of its own, which is then all the
 * template sees. The names come from a stranger, so they are checked on both
 * sides (and by the market, and by every node before it writes): relative,
 * inside, and no two that one file system could take for the same file.
 */
import fs from 'fs'
import path from 'path'
import { ScitError } from '../lib/errors'
import { isSafePath, clashingPaths } from '../lib/work-paths'
import { LIMITS } from '../market/messages'
import type { Template as Published, TemplateBody, TemplateFile } from '../market/types'
import type { Template } from './template'

/** What `scit bot template publish` submits: the document as checked, and the files it ships, each once. */
export function publishBody(t: Template): TemplateBody {
  const from = new Map<string, string>()
  for (const shipped of t.shipped) for (const f of shipped) from.set(f.from, f.abs)
  const files: TemplateFile[] = [...from]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([p, abs]) => ({ path: p, data: fs.readFileSync(abs) }))
  const body = {
    name: t.doc.name,
    version: t.doc.version,
    document: Buffer.from(t.src),
    files
  }
  const what = `${body.name} v${body.version}`
  const why = namesProblem(files.map((f) => f.path))
  if (why) throw new ScitError('TEMPLATE', `${what} cannot be published: ${why}`)
  const size = files.reduce((n, f) => n + f.path.length + f.data.byteLength, body.document.length)
  if (files.length > LIMITS.templateFiles || size > LIMITS.template)
    throw new ScitError(
      'TEMPLATE',
      `${what} with its ${files.length} files is ${size} bytes: the market carries at most ${LIMITS.template} bytes and ${LIMITS.templateFiles} files per template; ship large data as an archive (kind archive, archive.source)`
    )
  return body
}

/** Why these names cannot all land in one folder, or null. */
function namesProblem(names: string[]): string | null {
  const unsafe = names.find((n) => !isSafePath(n))
  if (unsafe !== undefined)
    return `file "${unsafe.slice(0, 200)}" would leave the template's folder (a name is relative and /-separated, with no .., . or empty part)`
  const clash = clashingPaths(names)
  if (clash) return `files "${clash[0]}" and "${clash[1]}" would land on one file`
  return null
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/

/**
 * Write a published template under `root`: its document as `NAME@VERSION.yaml`
 * and its files in the folder `NAME@VERSION/` (replaced whole, never written
 * through what was there). Returns both, for loadTemplate(file, folder).
 */
export function unpackTemplate(root: string, t: Published): { file: string; folder: string } {
  const what = `${t.name}@${t.version} (published by ${t.author})`
  if (!NAME.test(t.name) || !Number.isSafeInteger(t.version) || t.version < 1)
    throw new ScitError('TEMPLATE', `${what}: not a template name and version`)
  const files = t.files ?? []
  const why = namesProblem(files.map((f) => f.path))
  if (why) throw new ScitError('TEMPLATE', `${what} is refused: ${why}`)
  fs.mkdirSync(root, { recursive: true, mode: 0o700 })
  const base = path.join(root, `${t.name}@${t.version}`)
  const fresh = fs.mkdtempSync(`${base}.tmp-`)
  try {
    for (const f of files) {
      const dest = path.join(fresh, ...f.path.split('/'))
      fs.mkdirSync(path.dirname(dest), { recursive: true, mode: 0o700 })
      // 'wx': a fresh folder holds nothing to write through; a second file by one name would fail here
      fs.writeFileSync(dest, f.data, { flag: 'wx', mode: 0o600 })
    }
    fs.rmSync(base, { recursive: true, force: true })
    fs.renameSync(fresh, base)
  } catch (err) {
    fs.rmSync(fresh, { recursive: true, force: true })
    throw err
  }
  const file = `${base}.yaml`
  fs.writeFileSync(`${file}.tmp`, t.document, { mode: 0o600 })
  fs.renameSync(`${file}.tmp`, file)
  return { file, folder: base }
}
