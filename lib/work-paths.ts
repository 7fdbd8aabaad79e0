/**
 * Paths a contract names inside a node's work dir (shipped files, state,
 * output). Whoever wrote the manifest, a node writes and reads only under
 * its work dir: nothing absolute, no `..`, and no two names one file system
 * could take for the same file.
 */

/** Relative, `/`-separated, no empty, `.` or `..` segment, no backslash or NUL. */
export function isSafePath(p: string): boolean {
  if (
    p.length === 0 ||
    p.length > 1024 ||
    p.startsWith('/') ||
    p.includes('\\') ||
    p.includes('\0')
  )
    return false
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..')
}

/** How a case-insensitive or normalising file system (macOS, ext4 casefold) may see a name. */
function fold(p: string): string {
  return p.normalize('NFC').toLowerCase()
}

/**
 * The first two of `paths` that would land on one file once normalised
 * (Unicode NFC, case), or where one is a file and the other needs it to be a
 * folder (`a` and `a/b`); null when every one has a place of its own.
 */
export function clashingPaths(paths: Iterable<string>): [string, string] | null {
  const files = new Map<string, string>()
  const dirs = new Map<string, string>()
  for (const p of paths) {
    const f = fold(p)
    const other = files.get(f) ?? dirs.get(f)
    if (other !== undefined) return [other, p]
    files.set(f, p)
    const segs = f.split('/')
    for (let i = 1; i < segs.length; i++) {
      const d = segs.slice(0, i).join('/')
      const file = files.get(d)
      if (file !== undefined) return [file, p]
      if (!dirs.has(d)) dirs.set(d, p)
    }
  }
  return null
}
