/**
 * A stopped node's store damaged on disk, as a failing disk or a crash in the middle of a write leaves it: one
 * file of its Corestore (RocksDB's tables, log or manifest) truncated to half or with bytes flipped mid-file.
 */
import fs from 'fs'
import path from 'path'

function files(dir: string): string[] {
  const out: string[] = []
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...files(p))
    else if (e.isFile() && fs.statSync(p).size > 0) out.push(p)
  }
  return out.sort()
}

/** Damage one file of `data`'s store, chosen by `n` (the fault's number); returns which and how. */
export function damageStore(
  data: string,
  how: 'flip' | 'truncate',
  n: number
): { file: string; how: string } {
  const store = path.join(data, 'corestore')
  const all = files(store)
  // RocksDB's own files: tables, write-ahead log, manifest
  const db = all.filter((f) => /\.(sst|log)$|MANIFEST-/.test(path.basename(f)))
  const pool = db.length > 0 ? db : all
  if (pool.length === 0) return { file: '(no file)', how: 'nothing to damage' }
  const file = pool[n % pool.length]
  const size = fs.statSync(file).size
  if (how === 'truncate') {
    fs.truncateSync(file, Math.floor(size / 2))
  } else {
    const fd = fs.openSync(file, 'r+')
    const at = Math.floor(size / 2)
    const buf = Buffer.alloc(Math.min(16, size - at))
    fs.readSync(fd, buf, 0, buf.length, at)
    for (let i = 0; i < buf.length; i++) buf[i] ^= 0xff
    fs.writeSync(fd, buf, 0, buf.length, at)
    fs.closeSync(fd)
  }
  return {
    file: path.relative(data, file),
    how: `${how === 'flip' ? 'flipped 16 bytes at the middle of' : 'truncated to half'} (${size} bytes)`
  }
}

/** What a farmer does with a store its node refuses: set it aside and start afresh with the same identity. */
export function wipeStore(data: string): void {
  const store = path.join(data, 'corestore')
  if (fs.existsSync(store)) fs.renameSync(store, `${store}.damaged-${Date.now()}`)
}
