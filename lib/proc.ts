/**
 * A process told apart from a later one with the same pid: Linux reuses pids, so a pid alone may name
 * another program by the time it is looked at. /proc/<pid>/stat's start time (clock ticks since boot)
 * is what stays the same for one process and differs for the next one given its pid.
 */
import fs from 'fs'

export interface Proc {
  pid: number
  /** Its start time, or null where there is no /proc (or the process was already gone). */
  start: string | null
}

function statOf(pid: number): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
}

/** Fields after the command name (which may hold spaces and parentheses): [0] is the state, [19] the start time. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

export function proc(pid: number): Proc {
  const stat = statOf(pid)
  return { pid, start: stat === null ? null : statFields(stat)[19] }
}

/** Is `p` still there, the same process? A zombie is not: it holds nothing but its exit status. */
export function running(p: Proc): boolean {
  if (p.start === null) return false
  const stat = statOf(p.pid)
  if (stat === null) return false
  const f = statFields(stat)
  return f[19] === p.start && f[0] !== 'Z' && f[0] !== 'X'
}

export interface ProcEntry extends Proc {
  /** Its parent's pid (1, or a subreaper, once its parent died). */
  ppid: number
  /** Empty for a kernel thread, a zombie, or a process gone since it was listed. */
  argv: string[]
}

/** Every process in /proc now, with its parent and its argv. */
export function processes(): ProcEntry[] {
  const out: ProcEntry[] = []
  let names: string[]
  try {
    names = fs.readdirSync('/proc')
  } catch {
    return out
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue
    const stat = statOf(Number(name))
    if (stat === null) continue
    const f = statFields(stat)
    let argv: string[] = []
    try {
      argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').slice(0, -1)
    } catch {}
    out.push({ pid: Number(name), start: f[19], ppid: Number(f[1]), argv })
  }
  return out
}

/** The environment of `pid` (`NAME=value` entries); none when it is gone or not ours to read. */
export function environ(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').slice(0, -1)
  } catch {
    return []
  }
}
