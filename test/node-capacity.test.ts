import test from 'brittle'
import os from 'os'
import {
  probeMachine,
  capacity,
  sellable,
  withDiskKind,
  Probe,
  DEFAULT_RESERVE
} from '../node/capacity'
import { isScitError } from '../lib/errors'
import { GiB, MiB } from '../lib/resources'

const probe: Probe = { cpu: 8000, memory: 16 * GiB, disk: 1000 * GiB, rotational: false }

function refused(t: test.Assert, fn: () => unknown, what: string): void {
  try {
    fn()
    t.fail(`${what}: accepted`)
  } catch (err) {
    t.ok(isScitError(err, 'CAPACITY'), `${what}: CAPACITY (${(err as Error).message})`)
  }
}

test('the probe reports the real cores, memory and free disk of the data dir', async (t) => {
  const p = probeMachine(await t.tmp())
  t.is(p.cpu, os.availableParallelism() * 1000)
  t.is(p.memory, os.totalmem())
  t.ok(p.disk > 0, `free disk ${p.disk}`)
})

test('sellable capacity keeps a reserve for the node itself', (t) => {
  const s = sellable(probe)
  t.is(s.cpu, 8000 - 800, '10% of the cores')
  t.is(s.memory, 16 * GiB - 512 * MiB)
  t.is(s.ssd, Math.floor(1000 * GiB * 0.95))
  t.is(s.hdd, 0)
  t.is(sellable({ ...probe, cpu: 2000 }).cpu, 1750, 'at least 250 millicores are kept')
  t.is(
    sellable({ ...probe, rotational: true }).hdd,
    Math.floor(1000 * GiB * 0.95),
    'a spinning disk is sold as hdd'
  )
  t.is(DEFAULT_RESERVE.memory, 512 * MiB)
})

test('flags lower the capacity', (t) => {
  const c = capacity(probe, { cpu: '2', memory: '8GiB', ssd: '100GiB' })
  t.is(c.resources.cpu, 2000)
  t.is(c.resources.memory, 8 * GiB)
  t.is(c.resources.ssd, 100 * GiB)
  t.is(c.resources.hdd, 0)
  t.is(capacity(probe).resources.cpu, 7200, 'no flags: everything sellable')
})

test('--attr ssd sells the disk as ssd even where sysfs says it spins (a VM disk), and --attr hdd as hdd', (t) => {
  const vm = { ...probe, rotational: true }
  const disk = Math.floor(1000 * GiB * 0.95)
  t.is(capacity(withDiskKind(vm, ['ssd'])).resources.ssd, disk, 'ssd: what the CRM example needs')
  t.is(capacity(withDiskKind(vm, ['ssd'])).resources.hdd, 0)
  t.is(capacity(withDiskKind(probe, ['hdd', 'certified'])).resources.hdd, disk)
  t.is(withDiskKind(vm, ['certified']), vm, 'no disk attribute: sysfs decides')
  t.is(withDiskKind(vm, ['ssd', 'hdd']), vm, 'both: sysfs decides (and the flags split it)')
})

test('ssd and hdd flags split the one disk, never beyond it', (t) => {
  const c = capacity(probe, { ssd: '500GiB', hdd: '400GiB' })
  t.is(c.resources.ssd + c.resources.hdd, 900 * GiB)
  refused(t, () => capacity(probe, { ssd: '500GiB', hdd: '500GiB' }), 'ssd + hdd beyond the disk')
})

test('a flag asking for more than exists refuses to start', (t) => {
  refused(t, () => capacity(probe, { cpu: '8' }), 'cpu inside the reserve')
  refused(t, () => capacity(probe, { cpu: '64' }), 'more cores than exist')
  refused(t, () => capacity(probe, { memory: '16GiB' }), 'memory inside the reserve')
  refused(t, () => capacity(probe, { ssd: '2TiB' }), 'more disk than is free')
  refused(t, () => capacity(probe, { gpu: '1' }), 'a gpu that is not there')
})

test('malformed flags are refused with the parse error, not CAPACITY', (t) => {
  try {
    capacity(probe, { memory: 'lots' })
    t.fail('accepted')
  } catch (err) {
    t.ok(isScitError(err, 'INVALID_SIZE'))
  }
})
