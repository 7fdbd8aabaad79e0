/**
 * What this machine can sell, minus a reserve. Flags can only lower it: selling
 * more than exists would be paid for and then fail, so that refuses to start (CAPACITY).
 */
import fs from 'fs'
import os from 'os'
import { ScitError } from '../lib/errors'
import { openDataDir } from '../lib/datadir'
import { Resources, ZERO, MiB, formatCpu, formatSize, parseCpu, parseSize } from '../lib/resources'

export interface Probe {
  cpu: number // millicores
  memory: number // bytes
  disk: number // bytes free (for this user) on the data dir's filesystem
  rotational: boolean // sysfs; unreliable in VMs, so flags may override
}

export interface Reserve {
  cpuFraction: number
  cpuMin: number
  memory: number
  diskFraction: number
}

/** Enough for the daemon, Corestore and a few sandboxes' setup. */
export const DEFAULT_RESERVE: Readonly<Reserve> = Object.freeze({
  cpuFraction: 0.1,
  cpuMin: 250,
  memory: 512 * MiB,
  diskFraction: 0.05
})

export interface CapacityFlags {
  cpu?: string
  memory?: string
  ssd?: string
  hdd?: string
  ipv4?: string
  gpu?: string
}

export interface Capacity {
  probe: Probe
  sellable: Resources
  resources: Resources
}

export function probeMachine(dataDir: string): Probe {
  openDataDir(dataDir)
  const st = fs.statfsSync(dataDir)
  return {
    cpu: os.availableParallelism() * 1000,
    memory: os.totalmem(),
    disk: st.bavail * st.bsize,
    rotational: isRotational(dataDir)
  }
}

function isRotational(dir: string): boolean {
  try {
    const dev = fs.statSync(dir).dev
    // Linux dev_t: major in bits 8-19 (and 32+), minor in bits 0-7 and 20-31.
    const major = (dev >> 8) & 0xfff
    const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00)
    return (
      fs.readFileSync(`/sys/dev/block/${major}:${minor}/queue/rotational`, 'utf8').trim() === '1'
    )
  } catch {
    return false
  }
}

/** The farmer's --attr names the disk's kind where sysfs cannot: a VM's virtual disk often says it spins. */
export function withDiskKind(probe: Probe, attributes: string[]): Probe {
  const ssd = attributes.includes('ssd')
  if (ssd === attributes.includes('hdd')) return probe
  return { ...probe, rotational: !ssd }
}

export function sellable(probe: Probe, reserve: Reserve = DEFAULT_RESERVE): Resources {
  const cpuReserve = Math.max(reserve.cpuMin, Math.ceil(probe.cpu * reserve.cpuFraction))
  const disk = Math.max(0, Math.floor(probe.disk * (1 - reserve.diskFraction)))
  return {
    ...ZERO,
    cpu: Math.max(0, probe.cpu - cpuReserve),
    memory: Math.max(0, probe.memory - reserve.memory),
    ssd: probe.rotational ? 0 : disk,
    hdd: probe.rotational ? disk : 0
  }
}

/** ssd and hdd share the data dir's disk: the farmer may name the kind, never sell more than is free. */
export function capacity(
  probe: Probe,
  flags: CapacityFlags = {},
  reserve: Reserve = DEFAULT_RESERVE
): Capacity {
  const max = sellable(probe, reserve)
  const out: Resources = { ...max }
  const lower = (
    kind: 'cpu' | 'memory' | 'ipv4' | 'gpu',
    asked: number,
    show: (n: number) => string
  ): void => {
    if (asked > max[kind]) {
      throw new ScitError(
        'CAPACITY',
        `--${kind} ${show(asked)} is more than this machine can sell (${show(max[kind])}: ${describeReserve(kind, probe, reserve)})`
      )
    }
    out[kind] = asked
  }
  if (flags.cpu !== undefined) lower('cpu', parseCpu(flags.cpu), formatCpu)
  if (flags.memory !== undefined) lower('memory', parseSize(flags.memory), formatSize)
  if (flags.ipv4 !== undefined) lower('ipv4', parseCount(flags.ipv4, 'ipv4'), String)
  if (flags.gpu !== undefined) lower('gpu', parseCount(flags.gpu, 'gpu'), String)

  const disk = max.ssd + max.hdd
  if (flags.ssd !== undefined || flags.hdd !== undefined) {
    const ssd =
      flags.ssd !== undefined
        ? parseSize(flags.ssd)
        : flags.hdd !== undefined
          ? Math.max(0, disk - parseSize(flags.hdd))
          : max.ssd
    const hdd = flags.hdd !== undefined ? parseSize(flags.hdd) : 0
    if (ssd + hdd > disk) {
      throw new ScitError(
        'CAPACITY',
        `--ssd ${formatSize(ssd)} plus --hdd ${formatSize(hdd)} is more than the free disk of the data dir (${formatSize(disk)} after a ${reserve.diskFraction * 100}% reserve)`
      )
    }
    out.ssd = ssd
    out.hdd = hdd
  }
  return { probe, sellable: max, resources: out }
}

function describeReserve(kind: string, probe: Probe, reserve: Reserve): string {
  if (kind === 'cpu')
    return `${formatCpu(probe.cpu)} cores minus a reserve of ${formatCpu(Math.max(reserve.cpuMin, Math.ceil(probe.cpu * reserve.cpuFraction)))}`
  if (kind === 'memory')
    return `${formatSize(probe.memory)} minus a reserve of ${formatSize(reserve.memory)}`
  return 'none detected on this machine'
}

function parseCount(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim()))
    throw new ScitError('INVALID_RESOURCE', `--${what} must be a whole number, got "${text}"`)
  return Number(text)
}
