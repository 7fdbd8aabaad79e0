/**
 * A minimal bot for node tests (the bot issue replaces it): a market it
 * founds and funds, bids for one workload, a contract core written with the
 * real notary writer, and settlement.
 */
import fs from 'fs'
import path from 'path'
import type { Assert } from 'brittle'
import type { Testnet } from '../../lib/testnet'
import { generateKeyPair, KeyPair } from '../../lib/identity'
import { encodeKey } from '../../lib/keys'
import { ZERO, MiB } from '../../lib/resources'
import {
  manifestHash,
  Manifest,
  ManifestWorkload,
  BlobRef,
  DEFAULT_ACCESS,
  MANIFEST_VERSION
} from '../../lib/contract'
import { ContractWriter } from '../../bot/notary'
import { planBids } from '../../bot/manifest'
import type { MarketPeer } from '../../market/peer'
import { market, offered } from './ledger'
import { testnet } from './net'
import { NodeDaemon, NodeOptions } from '../../node/daemon'
import type { Transition } from '../../node/workload'
import { readCore } from '../../lib/status'
import type { StatusRecord } from '../../lib/node-messages'
import { nodeDaemon } from './node'
import { HOUR } from './market'

export { HOUR } from './market'

export interface TestBot {
  peer: MarketPeer
  identity: KeyPair
}

/** A funded market peer with an identity, acting as the bot (no Bot process). */
export async function peerBot(t: Assert, net: Testnet): Promise<TestBot> {
  const identity = generateKeyPair()
  const peer = await market(t, net, { identity })
  const [dep] = await peer.client.submitAndWait([
    { type: 'deposit', body: { to: identity.publicKey, amount: 1_000_000_000 } }
  ])
  if (!dep.accepted) throw new Error(`deposit refused: ${dep.message ?? ''}`)
  return { peer, identity }
}

export function workload(over: Partial<ManifestWorkload> = {}): ManifestWorkload {
  return {
    name: 'main',
    kind: 'job',
    files: [],
    command: ['node', 'main.js'],
    env: {},
    ports: [],
    restart: 'never',
    resources: { ...ZERO, cpu: 500, memory: 512 * MiB },
    replicas: 1,
    budget: 1000,
    mirror: null,
    archive: null,
    output: null,
    access: DEFAULT_ACCESS,
    state: null,
    ...over,
    // a job's output is kept an hour after its lease unless the test says
    retain: over.retain ?? (over.output != null ? 3_600_000 : 0)
  }
}

export function manifest(w: ManifestWorkload, over: Partial<Manifest> = {}): Manifest {
  return {
    version: MANIFEST_VERSION,
    template: { name: 'test', version: 1 },
    params: {},
    workloads: [w],
    placement: { countries: [], attributes: [], spread: false },
    duration: HOUR,
    budget: 1000,
    stakeholders: { threshold: 0, signers: [] },
    ...over
  }
}

/** Bid for the manifest's only workload; resolves with the trade id once matched. */
export async function buy(b: TestBot, m: Manifest): Promise<string> {
  const [{ body }] = planBids(m, { expiry: Date.now() + HOUR })
  const [outcome] = await b.peer.client.submitAndWait([{ type: 'bid', body }], { final: false })
  if (!outcome.accepted || outcome.trades.length === 0)
    throw new Error(`bid not matched: ${outcome.reason ?? ''} ${outcome.message ?? ''}`)
  return outcome.trades[0]
}

export interface Written {
  writer: ContractWriter
  refs: BlobRef[]
}

/** Write a contract core: header, the files (name → content), a deploy. `files` must match the manifest's. */
export async function contract(
  t: Assert,
  b: TestBot,
  m: Manifest,
  trades: string[],
  files: Record<string, string>,
  opts: { deploy?: boolean } = {}
): Promise<Written> {
  const writer = new ContractWriter({
    store: b.peer.store as NonNullable<MarketPeer['store']>,
    identity: b.identity,
    contractId: `c-${Math.random().toString(36).slice(2)}`
  })
  await writer.ready()
  await writer.writeHeader(m, trades)
  const dir = await t.tmp()
  const refs: BlobRef[] = []
  for (const [name, content] of Object.entries(files)) {
    const src = path.join(dir, name)
    fs.writeFileSync(src, content)
    refs.push(await writer.appendFile(src, { workload: m.workloads[0].name, path: name }))
  }
  if (opts.deploy !== false) await writer.appendInstruction({ action: 'deploy', files: refs })
  return { writer, refs }
}

export async function settle(b: TestBot, trade: string, w: Written, m: Manifest): Promise<void> {
  const [o] = await b.peer.client.submitAndWait(
    [{ type: 'settle', body: { trade, contract: w.writer.key, manifest: manifestHash(m) } }],
    { final: false }
  )
  if (!o.accepted) throw new Error(`settle refused: ${o.reason ?? ''} ${o.message ?? ''}`)
}

/** A file entry of a manifest for `content`. */
export async function fileOf(
  t: Assert,
  name: string,
  content: string
): Promise<{ path: string; size: number; hash: Buffer }> {
  const { hashFile } = await import('../../lib/contract')
  const f = path.join(await t.tmp(), 'f')
  fs.writeFileSync(f, content)
  return { path: name, ...(await hashFile(f)) }
}

/** A node selling on the test bot's market (closed after the test's own resources). */
export async function node(
  t: Assert,
  net: Testnet,
  b: TestBot,
  over: Partial<NodeOptions> = {}
): Promise<NodeDaemon> {
  return nodeDaemon(t, net, b.peer.key, over)
}

export interface NodeScene {
  net: Testnet
  b: TestBot
  n: NodeDaemon
}

/** A testnet, a market with a peer bot, and one node whose offer is in it. */
export async function nodeScene(t: Assert, over: Partial<NodeOptions> = {}): Promise<NodeScene> {
  const net = await testnet(t)
  const b = await peerBot(t, net)
  const n = await node(t, net, b, over)
  await offered(b.peer, keyOf(n))
  return { net, b, n }
}

/** A transition that ends a run: the workload exited, failed, or the node refused it. */
export function ended(t: Transition): boolean {
  return t.state === 'exited' || t.state === 'failed' || t.state === 'refused'
}

/** The next transition of workload `id` on `n` satisfying `pred`. */
export function nodeTransition(
  n: NodeDaemon,
  id: string,
  pred: (t: Transition) => boolean
): Promise<Transition> {
  return new Promise((resolve) => {
    const on = (t: Transition): void => {
      if (t.id !== id || !pred(t)) return
      n.supervisor.off('transition', on)
      resolve(t)
    }
    n.supervisor.on('transition', on)
  })
}

export function keyOf(n: NodeDaemon): string {
  return encodeKey(n.identity.publicKey)
}

/** The first record of workload `id` in `n`'s status core that satisfies `pred`; waits for appends until there is one. */
export async function recorded(
  n: NodeDaemon,
  id: string,
  pred: (r: StatusRecord) => boolean = () => true
): Promise<StatusRecord> {
  const core = n.status.status
  for (;;) {
    let on: () => void = () => {}
    const appended = new Promise<void>((resolve) => {
      on = resolve
      core.once('append', on)
    })
    const r = await readCore<StatusRecord>(core, n.identity.publicKey, 'status', { wait: false })
    const hit = r.records.find((x) => x.body.workload === id && pred(x.body))
    if (hit) {
      core.off('append', on)
      return hit.body
    }
    await appended
  }
}

/** Every verified record of workload `id` in `n`'s status core so far. */
export async function records(n: NodeDaemon, id: string): Promise<StatusRecord[]> {
  const r = await readCore<StatusRecord>(n.status.status, n.identity.publicKey, 'status', {
    wait: false
  })
  return r.records.filter((x) => x.body.workload === id).map((x) => x.body)
}
