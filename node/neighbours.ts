/**
 * Nodes on one machine. Each `scit node start` probes the whole machine, so two of them would each sell
 * all of it: leases then add up to more than exists. A running node leaves a record (pid, data dir,
 * what it sells, the filesystem its disk is on) in a per-user dir of the machine's tmp; a node that
 * starts reads the others' and says when what they sell together is more than the machine can sell.
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { Resources, formatResources, formatCpu, formatSize } from '../lib/resources'
import { readDataFile } from '../lib/datadir'
import { proc, running } from '../lib/proc'

export interface Neighbour {
  pid: number
  key: string
  data: string
  resources: Resources
  /** st_dev of the data dir: nodes share a disk only when they share a filesystem. */
  dev: number
  /** The pid's start time (lib/proc.ts), null where there is no /proc: a later process given the pid is not this node. */
  start: string | null
}

/**
 * The records' dir, only if it is this user's alone: /tmp is everyone's, and a dir another user made
 * (or a symlink planted there) would let them feed this node records or redirect its writes. Null if not.
 */
function dir(): string | null {
  const d = path.join(os.tmpdir(), `scit-nodes-${process.getuid?.() ?? 'user'}`)
  try {
    fs.mkdirSync(d, { recursive: true, mode: 0o700 })
    const st = fs.lstatSync(d)
    const uid = process.getuid?.()
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0)
      return null
    return d
  } catch {
    return null
  }
}

const RECORD_MAX = 64 * 1024

/**
 * Is the node of `n` still running? A node killed -9 leaves its record behind, and the pid it names may
 * since belong to another process (a soak starts hundreds) or the data dir be gone: neither sells anything.
 */
function stillRunning(n: Neighbour): boolean {
  if (!fs.existsSync(n.data)) return false
  if (n.start !== null && proc(n.pid).start !== null) return running(n)
  try {
    process.kill(n.pid, 0)
    return true
  } catch {
    return false // EPERM too: another user's process, and a node of ours runs as us
  }
}

/** Leave this node's record; the function returned removes it (a crashed node's is skipped: its pid is gone). */
export function recordHere(self: Omit<Neighbour, 'dev' | 'start'>): {
  dev: number
  remove: () => void
} {
  const dev = fs.statSync(self.data).dev
  const d = dir()
  if (d === null) return { dev, remove: () => {} } // a warning's source only: a node runs without it
  const file = path.join(d, `${self.pid}.json`)
  try {
    fs.writeFileSync(file, JSON.stringify({ ...self, dev, start: proc(self.pid).start }), {
      mode: 0o600
    })
  } catch {
    // likewise
  }
  return { dev, remove: () => fs.rmSync(file, { force: true }) }
}

/** The other nodes running on this machine now. */
export function neighbours(): Neighbour[] {
  const d = dir()
  let names: string[]
  try {
    names = d === null ? [] : fs.readdirSync(d)
  } catch {
    return []
  }
  const out: Neighbour[] = []
  for (const name of names) {
    // never a blocking open (a pipe), never more than a record's size
    const file = path.join(d as string, name)
    const read = readDataFile(file, RECORD_MAX)
    if (read === null || 'why' in read) continue
    try {
      const n = { start: null, ...JSON.parse(read.text) } as Neighbour // start: records from before it
      if (!isNeighbour(n) || n.pid === process.pid) continue
      if (stillRunning(n)) out.push(n)
      // a node killed -9 never removes its own: the soak's machine had 1,720 of them, each read by every start
      else fs.rmSync(file, { force: true })
    } catch {
      // one being written or removed
    }
  }
  return out
}

function isNeighbour(n: Neighbour): boolean {
  const r = n?.resources
  return (
    Number.isSafeInteger(n?.pid) &&
    n.pid > 0 &&
    typeof n.key === 'string' &&
    typeof n.data === 'string' &&
    typeof n.dev === 'number' &&
    (n.start === null || typeof n.start === 'string') &&
    typeof r === 'object' &&
    r !== null &&
    [r.cpu, r.memory, r.ssd, r.hdd].every((v) => Number.isSafeInteger(v) && v >= 0)
  )
}

/**
 * Why what `self` and `others` sell together is more than `machine` (what one node may sell here), or null.
 * Disk (ssd and hdd) counts only the nodes on self's filesystem.
 */
export function overlap(
  self: Omit<Neighbour, 'start'>,
  others: Neighbour[],
  machine: Resources
): string | null {
  if (others.length === 0) return null
  const over: string[] = []
  const disk = (r: Resources): number => r.ssd + r.hdd
  const sameDisk = others.filter((n) => n.dev === self.dev)
  const sum = (ns: Neighbour[], f: (r: Resources) => number): number =>
    ns.reduce((total, n) => total + f(n.resources), f(self.resources))
  const checks: Array<[string, number, number, (n: number) => string]> = [
    ['cpu', sum(others, (r) => r.cpu), machine.cpu, formatCpu],
    ['mem', sum(others, (r) => r.memory), machine.memory, formatSize],
    ['disk', sum(sameDisk, disk), disk(machine), formatSize]
  ]
  for (const [what, all, max, show] of checks)
    if (all > max) over.push(`${what} ${show(all)} of the ${show(max)}`)
  if (over.length === 0) return null
  const list = others.map(
    (n) =>
      `node ${n.key.slice(0, 8)} (pid ${n.pid}, --data ${n.data}) sells ${formatResources(n.resources)}`
  )
  return `this machine is sold more than once: ${list.join('; ')}; this node sells ${formatResources(self.resources)}. Together they sell ${over.join(', ')} it can sell: leases may add up to more than it has. Give each node its share (--cpu, --memory, --ssd, --hdd)`
}
