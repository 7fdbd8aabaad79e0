/**
 * The node's liveness protocol on market connections ("scit/node/v1" over
 * protomux): ping, a status summary, and storage challenges. It is read-only
 * by construction: there is no message that starts, stops or changes a
 * workload: only a signed, paid contract can (ARCHITECTURE §7).
 *
 * Storage challenge. The challenger picks a core the node must keep, random
 * block indexes and a fresh 32-byte nonce; the node answers, for each block,
 * BLAKE2b(nonce ‖ index ‖ block). The nonce makes answers impossible to
 * precompute or replay, so only a node holding the bytes can answer. The
 * challenger checks against its own copy of those blocks, which Hypercore
 * verifies against the core's Merkle tree wherever they come from: it needs
 * the core key, not trust in the node.
 */
import Protomux, { Channel, Message } from 'protomux'
import type Hypercore from 'hypercore'
import b4a from 'b4a'
import c from 'compact-encoding'
import sodium from 'sodium-universal'
import { ScitError } from '../lib/errors'
import { hash } from '../lib/keys'
import { logger } from '../lib/log'
import {
  PROTOCOL, ping, statusRequest, statusSummary, challenge, challengeAnswer,
  Ping, StatusRequest, StatusSummary, Challenge, ChallengeAnswer, WorkloadSummary
} from './messages'

const log = logger('node/protocol')

export const MAX_CHALLENGE_BLOCKS = 64
const DEFAULT_TIMEOUT = 10_000

/** What a node answers with. A peer without one (a bot, the explorer) still answers ping. */
export interface NodeHandler {
  node: Buffer
  statusCore: Buffer
  logCore: Buffer
  workloads (): WorkloadSummary[]
  /** The core this node keeps under key, or null. Blocks must be local: a challenge never downloads. */
  held (key: Buffer): Hypercore | null
}

export function challengeProof (nonce: Buffer, index: number, block: Buffer): Buffer {
  return hash('scit/node/challenge', nonce, c.encode(c.uint, index), block)
}

/** Answer a challenge from local blocks only. */
export async function answerChallenge (core: Hypercore, nonce: Buffer, indexes: number[]): Promise<Buffer[]> {
  const out: Buffer[] = []
  for (const i of indexes) {
    const block = i < core.length ? await core.get(i, { wait: false }) : null
    if (block === null) throw new ScitError('NOT_FOUND', `block ${i} is not held`)
    out.push(challengeProof(nonce, i, block))
  }
  return out
}

/** Check an answer against the challenger's own (Merkle-verified) copy of the blocks. */
export async function verifyChallenge (core: Hypercore, nonce: Buffer, indexes: number[], proofs: Buffer[], opts: { timeout?: number } = {}): Promise<boolean> {
  if (proofs.length !== indexes.length) return false
  for (let k = 0; k < indexes.length; k++) {
    const block = await core.get(indexes[k], { timeout: opts.timeout ?? DEFAULT_TIMEOUT })
    if (block === null || !b4a.equals(challengeProof(nonce, indexes[k], block), proofs[k])) return false
  }
  return true
}

/** Random distinct block indexes below `length`. */
export function pickIndexes (length: number, count: number): number[] {
  const n = Math.min(count, length, MAX_CHALLENGE_BLOCKS)
  const picked = new Set<number>()
  const buf = b4a.alloc(4)
  while (picked.size < n) {
    sodium.randombytes_buf(buf)
    picked.add(buf.readUInt32LE(0) % length)
  }
  return [...picked]
}

interface Waiting { resolve: (v: unknown) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }

export class NodeChannel {
  private readonly channel: Channel
  private readonly handler: NodeHandler | null
  private readonly waiting = new Map<number, Waiting>()
  private nextId = 1
  private readonly m: { ping: Message<Ping>, pong: Message<Ping>, statusReq: Message<StatusRequest>, status: Message<StatusSummary>, challenge: Message<Challenge>, answer: Message<ChallengeAnswer> }

  /** Open the protocol on a connection (a Hyperswarm socket or any stream Protomux accepts). */
  static attach (stream: unknown, handler: NodeHandler | null): NodeChannel {
    return new NodeChannel(Protomux.from(stream), handler)
  }

  private constructor (mux: Protomux, handler: NodeHandler | null) {
    this.handler = handler
    const channel = mux.createChannel({ protocol: PROTOCOL, onclose: () => this.failAll('channel closed') })
    if (channel === null) throw new ScitError('INVALID_ARGUMENT', `${PROTOCOL} is already open on this connection`)
    this.channel = channel
    // Message order is the wire's message type: append only.
    this.m = {
      ping: channel.addMessage({ encoding: ping, onmessage: p => { this.m.pong.send(p) } }),
      pong: channel.addMessage({ encoding: ping, onmessage: p => this.settle(p.id, p) }),
      statusReq: channel.addMessage({ encoding: statusRequest, onmessage: r => this.onStatus(r) }),
      status: channel.addMessage({ encoding: statusSummary, onmessage: s => this.settle(s.id, s) }),
      challenge: channel.addMessage({ encoding: challenge, onmessage: ch => { this.onChallenge(ch).catch(err => log.warn('challenge failed', { err: (err as Error).message })) } }),
      answer: channel.addMessage({ encoding: challengeAnswer, onmessage: a => this.settle(a.id, a) })
    }
    channel.open()
  }

  get closed (): boolean { return this.channel.closed }

  /** Round-trip time in ms. */
  async ping (opts: { timeout?: number } = {}): Promise<number> {
    const nonce = b4a.alloc(32)
    sodium.randombytes_buf(nonce)
    const start = Date.now()
    const pong = await this.request<Ping>(id => this.m.ping.send({ id, nonce }), opts.timeout)
    if (!b4a.equals(pong.nonce, nonce)) throw new ScitError('VERIFICATION', 'pong does not echo the nonce')
    return Date.now() - start
  }

  status (opts: { timeout?: number } = {}): Promise<StatusSummary> {
    return this.request<StatusSummary>(id => this.m.statusReq.send({ id }), opts.timeout)
  }

  /** Challenge the peer on `indexes` of `core`; returns the nonce used and the proofs (check with verifyChallenge). */
  async challenge (core: Buffer, indexes: number[], opts: { timeout?: number } = {}): Promise<{ nonce: Buffer, proofs: Buffer[] }> {
    if (indexes.length === 0 || indexes.length > MAX_CHALLENGE_BLOCKS) throw new ScitError('INVALID_ARGUMENT', `a challenge names 1 to ${MAX_CHALLENGE_BLOCKS} blocks`)
    const nonce = b4a.alloc(32)
    sodium.randombytes_buf(nonce)
    const a = await this.request<ChallengeAnswer>(id => this.m.challenge.send({ id, core, nonce, indexes }), opts.timeout)
    if (a.error !== null) throw new ScitError('REJECTED', `challenge refused: ${a.error}`)
    return { nonce, proofs: a.proofs }
  }

  close (): void {
    this.channel.close()
    this.failAll('channel closed')
  }

  private onStatus (r: StatusRequest): void {
    const h = this.handler
    if (!h) return // not a node: nothing to report; the asker times out
    this.m.status.send({ id: r.id, node: h.node, statusCore: h.statusCore, logCore: h.logCore, workloads: h.workloads() })
  }

  private async onChallenge (ch: Challenge): Promise<void> {
    const reply = (error: string | null, proofs: Buffer[] = []): void => { this.m.answer.send({ id: ch.id, error, proofs }) }
    const core = this.handler?.held(ch.core) ?? null
    if (core === null) return reply('core not held')
    if (ch.indexes.length === 0 || ch.indexes.length > MAX_CHALLENGE_BLOCKS) return reply(`a challenge names 1 to ${MAX_CHALLENGE_BLOCKS} blocks`)
    try {
      reply(null, await answerChallenge(core, ch.nonce, ch.indexes))
    } catch (err) {
      reply((err as Error).message)
    }
  }

  private async request<T> (send: (id: number) => void, timeout = DEFAULT_TIMEOUT): Promise<T> {
    if (this.channel.closed) throw new ScitError('CLOSED', 'node channel is closed')
    const id = this.nextId++
    const result = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting.delete(id); reject(new ScitError('TIMEOUT', `no answer from the peer in ${timeout}ms`)) }, timeout)
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, timer })
    })
    send(id)
    return result
  }

  private settle (id: number, value: unknown): void {
    const w = this.waiting.get(id)
    if (!w) return
    this.waiting.delete(id)
    clearTimeout(w.timer)
    w.resolve(value)
  }

  private failAll (why: string): void {
    for (const [id, w] of this.waiting) {
      this.waiting.delete(id)
      clearTimeout(w.timer)
      w.reject(new ScitError('CLOSED', why))
    }
  }
}
