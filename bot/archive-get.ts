/**
 * `scit bot archive get`: an entry back, byte for byte, from the first k
 * holders of each stripe (archive-download.ts), decrypted and hashed on the
 * way. It checks first that every group it needs has k holders that answer,
 * and says which group lacks how many; it writes under a hidden name next to
 * the destination and renames only a whole, verified result, so a failure
 * leaves nothing under the final name.
 */
import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import { ScitError } from '../lib/errors'
import { FileHash } from '../lib/contract'
import { FileOpener, cipherSize, HEADER_BYTES, MESSAGE_CIPHER } from '../lib/archive/seal'
import type { EntryFile, EntryMeta } from '../lib/archive/messages'
import type { Entry } from '../lib/archive/catalog'
import type { ShardChannel } from '../lib/archive/shard-channel'
import { StripeReader } from './archive-download'
import type { ArchiveSession } from './archive-session'
import { Meter, type ProgressFn } from './archive-progress'

export interface GetOptions {
  out?: string
  /** How long to wait for holders to answer (ms). */
  reach?: number
  force?: boolean
  progress?: ProgressFn
  /** Note a retry (a holder sent altered blocks). */
  notice?: (text: string) => void
}

export interface GetResult {
  name: string
  out: string
  dir: boolean
  files: number
  size: number
  seconds: number
  verified: boolean
}

/** Where a get writes: refused (EXISTS) when something is there, unless forced. Checked before the archive is opened. */
export function destination(name: string, opts: GetOptions): string {
  const out = path.resolve(opts.out ?? name)
  if (fs.existsSync(out) && opts.force !== true)
    throw new ScitError('EXISTS', `${out} exists: --force replaces it, --out PATH writes elsewhere`)
  return out
}

export async function get(
  s: ArchiveSession,
  name: string,
  opts: GetOptions = {}
): Promise<GetResult> {
  const out = destination(name, opts)
  const catalog = await s.catalog()
  const { entry, meta } = await s.find(name, catalog)
  const started = Date.now()
  const { k, m } = { k: s.code.data, m: s.code.parity }
  const holders = await s.holders(
    catalog,
    entry.segments.map((x) => x.group),
    opts.reach ?? 10_000
  )
  for (const [g, channels] of holders) {
    const up = channels.filter((c) => c !== null).length
    if (up < k)
      throw new ScitError(
        'UNAVAILABLE',
        `group ${g} of archive ${s.name} has ${up} of its ${k + m} holders answering: ${k + m - up} are missing, more than the ${m} it can lose; scit bot run replaces them (each rebuilds its shard from the others once ${k} answer again)`
      )
  }
  const temp = path.join(path.dirname(out), `.${path.basename(out)}.scit-partial-${process.pid}`)
  fs.rmSync(temp, { recursive: true, force: true })
  let verified = false
  try {
    try {
      await write(s, entry, meta, temp, holders, false, opts.progress)
    } catch (err) {
      if ((err as ScitError).code !== 'VERIFICATION') throw err
      // a holder sent altered bytes: read again, each block checked against its shard's signed tree
      opts.notice?.(
        `${(err as Error).message}: reading again with every block checked against the tree the bot signed`
      )
      fs.rmSync(temp, { recursive: true, force: true })
      verified = true
      await write(s, entry, meta, temp, holders, true, opts.progress)
    }
    if (fs.existsSync(out)) fs.rmSync(out, { recursive: true, force: true })
    fs.renameSync(temp, out)
  } catch (err) {
    fs.rmSync(temp, { recursive: true, force: true })
    throw err
  }
  return {
    name,
    out,
    dir: meta.dir,
    files: meta.files.length,
    size: meta.files.reduce((n, f) => n + f.size, 0),
    seconds: (Date.now() - started) / 1000,
    verified
  }
}

async function write(
  s: ArchiveSession,
  entry: Entry,
  meta: EntryMeta,
  dest: string,
  holders: Map<number, Array<ShardChannel | null>>,
  verify: boolean,
  progress?: ProgressFn
): Promise<void> {
  const total = meta.files.reduce((n, f) => n + f.size, 0)
  const meter = new Meter(meta.name, total, progress)
  if (meta.dir) {
    fs.mkdirSync(dest, { mode: 0o700 })
    for (const d of meta.dirs) fs.mkdirSync(path.join(dest, ...d.split('/')), { mode: 0o755 })
  }
  const reader = new StripeReader(entry, {
    k: s.code.data,
    m: s.code.parity,
    contract: s.contract,
    holders: (g) => holders.get(g) ?? [],
    verify
  })
  const files = new FileWriter(s, entry.id, meta, dest, meter)
  try {
    for await (const bytes of reader.bytes()) await files.write(bytes)
    files.end()
  } finally {
    files.close()
    meter.end()
  }
  if (meta.dir) fs.chmodSync(dest, 0o755)
}

/** Splits an entry's ciphertext into its files and their messages; each file is decrypted, hashed and written. */
class FileWriter {
  private index = -1
  private fd: number | null = null
  private opener: FileOpener | null = null
  private hash = new FileHash()
  private left = 0
  private pending = b4a.alloc(0)
  private file: EntryFile | null = null

  constructor(
    private readonly s: ArchiveSession,
    private readonly entry: Buffer,
    private readonly meta: EntryMeta,
    private readonly dest: string,
    private readonly meter: Meter
  ) {
    this.nextFile()
  }

  private where(f: EntryFile): string {
    return this.meta.dir ? path.join(this.dest, ...f.path.split('/')) : this.dest
  }

  private nextFile(): void {
    this.closeFile()
    this.index++
    const f = this.meta.files[this.index]
    this.file = f ?? null
    if (f === undefined) return
    this.left = cipherSize(f.size)
    this.opener = null
    this.hash = new FileHash()
    this.fd = fs.openSync(this.where(f), 'wx', 0o600)
  }

  async write(bytes: Buffer): Promise<void> {
    this.pending = this.pending.byteLength === 0 ? bytes : b4a.concat([this.pending, bytes])
    while (this.file !== null) {
      const want = this.opener === null ? HEADER_BYTES : Math.min(MESSAGE_CIPHER, this.left)
      if (this.pending.byteLength < want) return
      const part = this.pending.subarray(0, want)
      this.pending = this.pending.subarray(want)
      this.left -= want
      const what = `${this.meta.name}${this.meta.dir ? '/' + this.file.path : ''}`
      if (this.opener === null)
        this.opener = new FileOpener(this.s.keys.content, part, this.entry, this.index, what)
      else {
        const plain = this.opener.pull(part)
        this.hash.update(plain)
        if (plain.byteLength > 0) fs.writeSync(this.fd as number, plain)
        this.meter.add(plain.byteLength)
      }
      if (this.left === 0) this.finishFile(what)
    }
    if (this.pending.byteLength > 0)
      throw new ScitError('VERIFICATION', `${this.meta.name}: more bytes than its files hold`)
  }

  private finishFile(what: string): void {
    const f = this.file as EntryFile
    if (
      this.opener?.done !== true ||
      this.hash.size !== f.size ||
      !b4a.equals(this.hash.digest(), f.hash)
    )
      throw new ScitError('VERIFICATION', `${what} does not hash to what was stored`)
    this.nextFile()
  }

  end(): void {
    if (this.file !== null)
      throw new ScitError('VERIFICATION', `${this.meta.name}: its bytes end before its files do`)
  }

  private closeFile(): void {
    if (this.fd === null || this.file === null) return
    fs.closeSync(this.fd)
    this.fd = null
    const at = this.where(this.file)
    fs.chmodSync(at, this.file.mode & 0o777)
    const t = new Date(this.file.mtime)
    fs.utimesSync(at, t, t)
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd)
    this.fd = null
  }
}
