/**
 * `scit market contract ID`: the ledger names the bot, the contract core must carry that bot's signature on every
 * record, and node status cores (keys from signed presence records) the node's. What does not verify is reported as
 * such, never shown as fact.
 */
import { isLive } from '../engine/records'
import type Hypercore from 'hypercore'
import type DHT from 'hyperdht'
import { decodeKey } from '../../lib/keys'
import { ScitError } from '../../lib/errors'
import { readContract, ContractView, VerificationError } from '../../lib/contract'
import { lastStatus, workloadLogs } from '../../lib/status'
import { workloadFor, workloadId } from '../../lib/trade-workload'
import { approvalsTopic } from '../../lib/topics'
import type { MarketPeer } from '../peer'
import type { Trade, KeyText } from '../types'
import { KeyMatch, keyMatches, invalid } from './filters'
import {
  contractTrades,
  contractRow,
  ContractDetail,
  ReplicaDetail,
  ManifestSummary,
  LogLine
} from './model'
import { presenceOf, PresenceState } from './presence'
import { within } from '../../lib/timeout'
import { withCheckout } from './views'
import safetyCatch from 'safety-catch'

export interface DetailOptions {
  /** ms, per core. */
  timeout: number
  /** Log lines to show per replica. */
  lines: number
  logBlocks?: number
  dht: DHT | null
}

function find(all: Map<KeyText, Trade[]>, ref: KeyMatch, text: string): [KeyText, Trade[]] {
  const hits = [...all.entries()].filter(([k]) => keyMatches(ref, k))
  if (hits.length === 0)
    throw new ScitError(
      'NOT_FOUND',
      `no trade of this market is settled to a contract ${text} (scit market contracts lists them)`
    )
  if (hits.length > 1)
    throw invalid(
      'CONTRACT',
      `"${text}" is the start of ${hits.length} contract keys: give more characters`
    )
  return hits[0]
}

function summary(view: ContractView): ManifestSummary {
  const { hash, manifest: m } = view.current
  return {
    hash: hash.toString('hex'),
    name: m.template.name,
    version: m.template.version,
    params: m.params,
    duration: m.duration,
    placement: m.placement,
    workloads: m.workloads.map((w) => ({
      name: w.name,
      kind: w.kind,
      replicas: w.replicas,
      resources: w.resources,
      budget: w.budget,
      command: w.command,
      ports: w.ports,
      files: w.files.length
    }))
  }
}

/** Verified against the bots the ledger names (one, unless a bot settled to a core not its own). */
async function verify(
  core: Hypercore,
  trades: Trade[],
  timeout: number,
  text: string
): Promise<{ view: ContractView | null; error: string | null }> {
  try {
    await within(
      core.get(0),
      timeout,
      `no peer served contract ${text} (are its bot and its nodes offline?)`
    )
    await within(core.update({ wait: true }), timeout, `contract ${text} did not update`)
  } catch (err) {
    return { view: null, error: `${(err as ScitError).code ?? 'ERROR'}: ${(err as Error).message}` }
  }
  let error = 'no trade names a bot'
  for (const bot of new Set(trades.map((t) => t.bot))) {
    try {
      const view = await within(
        readContract(core, { coreKey: core.key, botKey: decodeKey(bot) }),
        timeout,
        `contract ${text} did not download`
      )
      return { view, error: null }
    } catch (err) {
      error = `${(err as ScitError).code ?? 'ERROR'}: ${(err as Error).message}`
      if (!(err instanceof VerificationError) || err.reason !== 'wrong-bot') break
    }
  }
  return { view: null, error }
}

function linesOf(
  records: Array<{ timestamp: number; body: { stream: string; data: Buffer } }>,
  n: number
): LogLine[] {
  const out: LogLine[] = []
  for (const r of records)
    for (const text of r.body.data.toString().split('\n'))
      if (text !== '') out.push({ stream: r.body.stream, timestamp: r.timestamp, text })
  return out.slice(-n)
}

export interface NodeCores {
  status: Hypercore | null
  logs: Hypercore | null
  presence: PresenceState | 'not-looked-up'
  lastSeen: number | null
  error: string | null
}

const ENDED_WAIT = 2000
const HISTORY_GRACE = 500
const UNANSWERED: NodeCores = {
  status: null,
  logs: null,
  presence: 'timeout',
  lastSeen: null,
  error: null
}

export async function nodeCores(
  peer: MarketPeer,
  opts: DetailOptions,
  node: KeyText,
  opened: Hypercore[]
): Promise<NodeCores> {
  if (opts.dht === null)
    return {
      status: null,
      logs: null,
      presence: 'not-looked-up',
      lastSeen: null,
      error: 'no DHT to look the node up on'
    }
  const p = await presenceOf(opts.dht, peer.key, node, { timeout: opts.timeout })
  const base = { presence: p.state, lastSeen: p.lastSeen }
  if (p.record === null || peer.store === null)
    return {
      ...base,
      status: null,
      logs: null,
      error: p.error ?? 'the node has no presence record on the DHT: its status core is unknown'
    }
  const status = peer.store.get({ key: p.record.statusCore })
  const logs = peer.store.get({ key: p.record.logCore })
  opened.push(status, logs)
  try {
    await Promise.all([status.ready(), logs.ready()])
    await within(
      Promise.all([status.update({ wait: true }), logs.update({ wait: true })]),
      opts.timeout,
      'the node did not serve its status core'
    )
  } catch (err) {
    return { ...base, status: null, logs: null, error: (err as Error).message }
  }
  if (status.length === 0 && status.peers.length === 0)
    return {
      ...base,
      status: null,
      logs: null,
      error: 'the node is not connected: its status core cannot be read'
    }
  return { ...base, status, logs, error: null }
}

async function replica(
  t: Trade,
  view: ContractView | null,
  c: NodeCores,
  opts: DetailOptions
): Promise<ReplicaDetail> {
  let workload: string | null = null
  if (view !== null && t.manifest !== null && view.manifests.has(t.manifest)) {
    try {
      workload = workloadFor(view, view.state(), t).name
    } catch {
      workload = null
    }
  }
  const out: ReplicaDetail = {
    trade: t.id,
    workload,
    node: t.node,
    lease: t.state,
    price: t.price,
    end: t.end,
    presence: c.presence,
    lastSeen: c.lastSeen,
    status: 'unreachable',
    state: null,
    reason: null,
    since: null,
    restarts: null,
    statusError: c.error,
    refused: 0,
    logs: []
  }
  if (c.status === null || c.logs === null) return out
  const node = decodeKey(t.node)
  const id = workloadId(t)
  try {
    const s = await within(
      lastStatus(c.status, node, id, { timeout: opts.timeout }),
      opts.timeout * 2,
      "the node's status core did not download"
    )
    out.refused += s.refused.length
    out.status = s.record === null ? 'none' : 'verified'
    if (s.record !== null)
      Object.assign(out, {
        state: s.record.body.state,
        reason: s.record.body.reason,
        since: s.record.timestamp,
        restarts: s.record.body.restarts
      })
    const end = c.logs.length
    const l = await within(
      workloadLogs(c.logs, node, id, {
        start: Math.max(0, end - (opts.logBlocks ?? 64)),
        end,
        timeout: opts.timeout
      }),
      opts.timeout * 2,
      "the node's log core did not download"
    )
    out.refused += l.refused.length
    out.logs = linesOf(l.records, opts.lines)
  } catch (err) {
    out.statusError = (err as Error).message
  }
  return out
}

export async function contractDetail(
  peer: MarketPeer,
  ref: KeyMatch,
  text: string,
  opts: DetailOptions
): Promise<ContractDetail> {
  const [key, trades] = await withCheckout(peer, async (view) =>
    find(await contractTrades(view), ref, text)
  )
  if (peer.store === null) throw new ScitError('CLOSED', 'the market peer is not open')
  const core = peer.store.get({ key: decodeKey(key) })
  const opened: Hypercore[] = [core]
  const topic = approvalsTopic(decodeKey(key))
  const timers: NodeJS.Timeout[] = []
  try {
    await core.ready()
    // The bot serves its contracts on their approvals topic; the nodes that run it are market peers already.
    if (peer.swarm !== null) {
      peer.swarm.join(topic, { server: false, client: true })
      const done = core.findingPeers()
      peer.swarm.flush().then(done, done)
    }
    const { view, error } = await verify(core, trades, opts.timeout, text)
    const byNode = new Map<KeyText, Promise<NodeCores>>()
    const read = (t: Trade, o: DetailOptions): Promise<ReplicaDetail> => {
      let c = byNode.get(t.node)
      if (c === undefined) byNode.set(t.node, (c = nodeCores(peer, o, t.node, opened)))
      return c.then((x) => replica(t, view, x, o))
    }
    const live = new Set(trades.filter(isLive).map((t) => t.node))
    const current = new Map(
      trades.filter((t) => live.has(t.node)).map((t) => [t.id, read(t, opts)])
    )
    // A node that holds no live lease of this contract (failed, closed, ended: often a dead node) is history: it gets
    // what it serves while the live replicas are read and HISTORY_GRACE more, ENDED_WAIT at most, so one dead node
    // does not hold the answer (its cores are closed below).
    const cut = new Promise<null>((resolve) => {
      timers.push(setTimeout(() => resolve(null), ENDED_WAIT).unref())
      Promise.allSettled(current.values())
        .then(() => timers.push(setTimeout(() => resolve(null), HISTORY_GRACE).unref()))
        .catch(safetyCatch)
    })
    const short = { ...opts, timeout: Math.min(opts.timeout, ENDED_WAIT) }
    const replicas = await Promise.all(
      trades.map(async (t) => {
        const known = current.get(t.id)
        if (known !== undefined) return await known
        const r = read(t, short)
        r.catch(safetyCatch)
        return (
          (await Promise.race([r, cut])) ??
          replica(
            t,
            view,
            { ...UNANSWERED, error: `its lease is ${t.state} and its node did not answer` },
            short
          )
        )
      })
    )
    const st = view?.state() ?? null
    return {
      contract: key,
      bot:
        view !== null
          ? (trades.find((t) => view.expect.botKey.equals(decodeKey(t.bot)))?.bot ?? trades[0].bot)
          : trades[0].bot,
      ledger: contractRow(key, trades),
      verified: view !== null,
      error,
      length: view?.length ?? null,
      manifest: view !== null ? summary(view) : null,
      approvals: view !== null ? view.approvalSummary() : null,
      instructions: (view?.instructions ?? []).map((i) => ({
        seq: i.seq,
        action: i.action,
        timestamp: i.timestamp,
        reason: i.reason
      })),
      lifecycle:
        st === null
          ? null
          : { deployed: st.deploy?.seq ?? null, stopped: st.stopped, replicas: st.replicas },
      replicas
    }
  } finally {
    for (const timer of timers) clearTimeout(timer)
    if (peer.swarm !== null) await peer.swarm.leave(topic).catch(safetyCatch)
    for (const c of opened) await c.close().catch(safetyCatch)
  }
}
