/** What `scit node start` and `scit node status` do (node/cli.ts registers them). */
import fs from 'fs'
import path from 'path'
import Corestore from 'corestore'
import { configFrom, output, untilSignal, CommonFlags, whole } from '../lib/command'
import { settleWithin } from '../lib/timeout'
import { stallIsAnError } from '../lib/stall'
import { requireMarket } from '../lib/config'
import { eventPrinter } from '../lib/events'
import { loadIdentity } from '../lib/identity'
import { encodeKey } from '../lib/keys'
import { logger } from '../lib/log'
import { ScitError } from '../lib/errors'
import { ZERO, RESOURCE_KINDS, Resources, formatResources } from '../lib/resources'
import { probeMachine, capacity, withDiskKind, CapacityFlags } from './capacity'
import { NodeDaemon } from './daemon'
import { recordHere, neighbours, overlap } from './neighbours'
import { DEFAULT_CLAIM_INTERVAL } from './payout'
import { DEFAULT_PRICES } from './offer'
import { parseDuration } from '../lib/duration'
import { readStatusFile, StatusFileWorkload } from './status-file'
import { readCore } from '../lib/status'
import type { StatusRecord } from '../lib/node-messages'
import { summarize } from './status'
import safetyCatch from 'safety-catch'

const log = logger('node/cli')

export interface StartFlags extends CommonFlags, CapacityFlags {
  country: string
  city: string
  attr?: string
  priceCpu?: string
  priceMemory?: string
  priceSsd?: string
  priceHdd?: string
  priceIpv4?: string
  priceGpu?: string
  minLease?: string
  maxLease?: string
  workloads?: string
  claimInterval?: string
  opTimeout?: string
  unsafeNoSandbox?: boolean
}

export async function cmdStart(flags: StartFlags): Promise<void> {
  const config = configFrom(flags)
  const market = requireMarket(config)
  const attributes = (flags.attr ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  const cap = capacity(withDiskKind(probeMachine(config.data), attributes), flags)
  const daemon = new NodeDaemon({
    data: config.data,
    market,
    bootstrap: config.bootstrap,
    capacity: cap.resources,
    prices: prices(flags, cap.resources),
    country: flags.country,
    city: flags.city,
    attributes,
    minLease: whole(flags.minLease ?? '60000', '--min-lease'),
    maxLease: whole(flags.maxLease ?? '0', '--max-lease'),
    workloads: flags.workloads ? path.resolve(flags.workloads) : undefined,
    claimInterval: whole(flags.claimInterval ?? String(DEFAULT_CLAIM_INTERVAL), '--claim-interval'),
    outcomeTimeout: parseDuration(flags.opTimeout ?? '30s'),
    unsafeNoSandbox: flags.unsafeNoSandbox === true
  })
  if (flags.unsafeNoSandbox)
    process.stderr.write(
      '\n  !!! --unsafe-no-sandbox: workloads run WITHOUT ISOLATION. Never sell capacity like this. !!!\n\n'
    )
  // One line per event: on stderr for people (stdout keeps `ready`), with --json an object per line on stdout.
  const event = eventPrinter(
    (text) => (flags.json ? process.stdout : process.stderr).write(text),
    flags.json === true
  )
  daemon.on('event', (name: string, detail: string) => event(name, detail))
  // Listening before the start: the offer may be on sale before ready() returns, and a stop then must still withdraw it.
  const stop = untilSignal()
  const disarm = stallIsAnError('scit node start', () => daemon.step)
  const early = await unlessDamaged(
    daemon,
    Promise.race([stop, daemon.ready().then(() => null)])
  ).finally(disarm) // a start that fails says why itself
  if (early !== null) {
    // Told to stop while it still waits for its market: nothing was offered, nothing to withdraw.
    log.info('stopping before the market answered', { signal: early })
    await daemon.stop()
    return
  }
  process.stderr.write(
    `scit node ${daemon.key} selling ${formatResources(cap.resources)} on market ${encodeKey(market)}\n`
  )
  const self = { pid: process.pid, key: daemon.key, data: config.data, resources: cap.resources }
  const record = recordHere(self)
  const sold = overlap({ ...self, dev: record.dev }, neighbours(), cap.sellable)
  if (sold !== null) event('warning', sold)
  output(
    flags,
    {
      key: daemon.key,
      capacity: cap.resources,
      statusCore: encodeKey(daemon.status.status.key)
    },
    () => `ready ${daemon.key}`
  )
  const sig = await unlessDamaged(daemon, stop)
  log.info('stopping: withdrawing the offer first', { signal: sig })
  event('withdraw', `${sig}: withdrawing the offer, then stopping the workloads`)
  const final = await daemon.withdraw()
  event(
    'withdrawn',
    final
      ? 'the offer is withdrawn (final in the ledger): nothing more is sold'
      : 'the withdrawal is not final yet: stopping anyway (the market lapses the offer after its TTL)'
  )
  await daemon.close()
  record.remove()
  event('stopped', `node ${daemon.key}`)
}

/** How long a node whose store is damaged may take to stop its workloads before it exits. */
const DAMAGED_STOP = 15_000
/** Then how long its error line may take to be written before the process exits, whatever is left open. */
const EXIT_AFTER = 1000

/**
 * `p`, unless the store turns out damaged first (NodeDaemon 'damaged'): then the node stops (bounded) and throws
 * the damage, which the CLI says as CORRUPT with the store to move aside. It never runs on from a damaged store.
 */
async function unlessDamaged<T>(daemon: NodeDaemon, p: Promise<T>): Promise<T> {
  const damaged = new Promise<never>((_resolve, reject) => {
    if (daemon.damaged !== null) reject(daemon.damaged)
    else daemon.once('damaged', reject)
  })
  // a listener left from a step that ended first must not be an unhandled rejection
  damaged.catch(safetyCatch)
  try {
    return await Promise.race([p, damaged])
  } catch (err) {
    if (daemon.damaged === null) throw err
    await settleWithin(daemon.stop(), DAMAGED_STOP)
    // A stop cut short leaves its swarm open, and a known error only sets the exit code: the soak (seed 27) saw a
    // node say CORRUPT during its start and run on for minutes. Out once the error line is written.
    setTimeout(() => process.exit(1), EXIT_AFTER).unref()
    throw daemon.damaged
  }
}

export async function cmdStatus(flags: CommonFlags): Promise<void> {
  const config = configFrom(flags)
  const identity = loadIdentity(config.data, { create: false })
  const probe = probeMachine(config.data)
  const cap = capacity(probe)
  const file = readStatusFile(config.data)
  const running = file !== null && file.pid !== null && alive(file.pid)
  // A running daemon holds the store: its status file is the live view; otherwise the verified status core is.
  const workloads = running
    ? file.workloads
    : ((await fromStatusCore(config.data, identity.publicKey)) ?? file?.workloads ?? [])
  const value = {
    key: encodeKey(identity.publicKey),
    running,
    probe,
    sellable: cap.sellable,
    selling: file?.capacity ?? null,
    free: file?.free ?? null,
    statusCore: file?.statusCore ?? null,
    leases: file?.leases ?? [],
    leasesAsOf: file?.updated ?? null,
    workloads
  }
  output(flags, value, () =>
    [
      `node      ${value.key}${value.running ? ' (running)' : ''}`,
      `machine   ${formatResources({ ...ZERO, cpu: probe.cpu, memory: probe.memory, [probe.rotational ? 'hdd' : 'ssd']: probe.disk })}`,
      `sellable  ${formatResources(cap.sellable)}`,
      value.selling ? `selling   ${formatResources(value.selling)}` : 'selling   (not running)',
      value.free ? `free      ${formatResources(value.free)}` : '',
      value.running || value.leasesAsOf === null
        ? 'leases:'
        : `leases (when the node last ran, ${new Date(value.leasesAsOf).toISOString()}):`,
      ...value.leases.map(
        (l) =>
          `  ${l.trade.padEnd(24)} bot ${l.bot}  ${formatResources(l.resources)}  ${l.price}/h  ends ${l.end === null ? '-' : new Date(l.end).toISOString()}`
      ),
      'workloads:',
      ...value.workloads.map(
        (w) => `  ${w.workload.padEnd(24)} ${w.state.padEnd(9)} restarts ${w.restarts}  ${w.reason}`
      )
    ]
      .filter(Boolean)
      .join('\n')
  )
}

/** A kind this node sells at 0 would be sold for nothing: refused, like a price that is not a whole number. */
function prices(f: StartFlags, selling: Resources): Resources {
  const out = pricesOf(f)
  for (const kind of RESOURCE_KINDS) {
    if (selling[kind] > 0 && out[kind] === 0)
      throw new ScitError(
        'INVALID_ARGUMENT',
        `--price-${kind} 0 would sell this node's ${kind} for nothing: give at least 1 (the market's smallest unit per resource-hour), or leave the flag out for the default ${DEFAULT_PRICES[kind]}`
      )
  }
  return out
}

function pricesOf(f: StartFlags): Resources {
  const p = (v: string | undefined, what: string): number => whole(v ?? '', what)
  return {
    cpu: p(f.priceCpu, '--price-cpu'),
    memory: p(f.priceMemory, '--price-memory'),
    ssd: p(f.priceSsd, '--price-ssd'),
    hdd: p(f.priceHdd, '--price-hdd'),
    ipv4: p(f.priceIpv4, '--price-ipv4'),
    gpu: p(f.priceGpu, '--price-gpu')
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Only possible while no daemon holds the store. */
async function fromStatusCore(data: string, node: Buffer): Promise<StatusFileWorkload[] | null> {
  const dir = path.join(data, 'corestore')
  if (!fs.existsSync(dir)) return []
  const store = new Corestore(dir)
  try {
    await store.ready()
    const core = store.namespace('scit/node').get({ name: 'scit/node/status' })
    const r = await readCore<StatusRecord>(core, node, 'status', { wait: false })
    await core.close()
    return summarize(r.records).map((w) => ({
      workload: w.workload,
      state: w.state,
      reason: w.reason,
      restarts: w.restarts,
      trade: w.last.trade
    }))
  } catch {
    return null
  } finally {
    await store.close().catch(safetyCatch)
  }
}
