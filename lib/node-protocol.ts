/**
 * The node's liveness protocol ("scit/node/v2"): ping, status summary and storage
 * challenges (lib/storage-proof.ts). Read-only by construction: only a signed,
 * paid contract starts, stops or changes a workload (docs/ARCHITECTURE.md "Execution").
 */
import Protomux, { Channel, Message } from 'protomux'
import type Hypercore from 'hypercore'
import b4a from 'b4a'
import sodium from 'sodium-universal'
import { ScitError } from './errors'
import { Requests } from './requests'
import { logger } from './log'
import {
  proveStorage,
  verifyStorage,
  SignedHead,
  Verdict,
  MAX_CHALLENGE_BLOCKS
} from './storage-proof'
import {
  PROTOCOL,
  ping,
  statusRequest,
  statusSummary,
  challenge,
  challengeAnswer,
  Ping,
  StatusRequest,
  StatusSummary,
  Challenge,
  ChallengeAnswer,
  WorkloadSummary
} from './node-messages'

const log = logger('node/protocol')

const DEFAULT_TIMEOUT = 10_000

/** What a node answers with. A peer without one (a bot, the explorer) still answers ping. */
export interface NodeHandler {
  node: Buffer
  statusCore: Buffer
  logCore: Buffer
  workloads(): WorkloadSummary[]
  /** The core this node keeps under key, or null. Blocks must be local: a challenge never downloads. */
  held(key: Buffer): Hypercore | null
}

export class NodeChannel {
  private readonly channel: Channel
  private readonly handler: NodeHandler | null
  private readonly requests = new Requests()
  private readonly m: {
    ping: Message<Ping>
    pong: Message<Ping>
    statusReq: Message<StatusRequest>
    status: Message<StatusSummary>
    challenge: Message<Challenge>
    answer: Message<ChallengeAnswer>
  }

  static attach(stream: unknown, handler: NodeHandler | null): NodeChannel {
    return new NodeChannel(Protomux.from(stream), handler)
  }

  private constructor(mux: Protomux, handler: NodeHandler | null) {
    this.handler = handler
    const channel = mux.createChannel({
      protocol: PROTOCOL,
      onclose: () => this.requests.failAll('channel closed')
    })
    if (channel === null)
      throw new ScitError('INVALID_ARGUMENT', `${PROTOCOL} is already open on this connection`)
    this.channel = channel
    // Message order is the wire's message type: append only.
    this.m = {
      ping: channel.addMessage({
        encoding: ping,
        onmessage: (p) => {
          this.m.pong.send(p)
        }
      }),
      pong: channel.addMessage({ encoding: ping, onmessage: (p) => this.requests.settle(p.id, p) }),
      statusReq: channel.addMessage({
        encoding: statusRequest,
        onmessage: (r) => this.onStatus(r)
      }),
      status: channel.addMessage({
        encoding: statusSummary,
        onmessage: (s) => this.requests.settle(s.id, s)
      }),
      challenge: channel.addMessage({
        encoding: challenge,
        onmessage: (ch) => {
          this.onChallenge(ch).catch((err) =>
            log.warn('challenge failed', { err: (err as Error).message })
          )
        }
      }),
      answer: channel.addMessage({
        encoding: challengeAnswer,
        onmessage: (a) => this.requests.settle(a.id, a)
      })
    }
    channel.open()
  }

  get closed(): boolean {
    return this.channel.closed
  }

  /** Round-trip time in ms. */
  async ping(opts: { timeout?: number } = {}): Promise<number> {
    const nonce = b4a.alloc(32)
    sodium.randombytes_buf(nonce)
    const start = Date.now()
    const pong = await this.request<Ping>((id) => this.m.ping.send({ id, nonce }), opts.timeout)
    if (!b4a.equals(pong.nonce, nonce))
      throw new ScitError('VERIFICATION', 'pong does not echo the nonce')
    return Date.now() - start
  }

  status(opts: { timeout?: number } = {}): Promise<StatusSummary> {
    return this.request<StatusSummary>((id) => this.m.statusReq.send({ id }), opts.timeout)
  }

  /**
   * Challenge the peer on `count` blocks of `core` at the length of a `head` the caller
   * trusts. Resolves with the verdict; rejects REJECTED on refusal, TIMEOUT on silence.
   */
  async challenge(
    core: Buffer,
    head: SignedHead,
    count = 8,
    opts: { timeout?: number } = {}
  ): Promise<Verdict> {
    if (count < 1 || count > MAX_CHALLENGE_BLOCKS)
      throw new ScitError(
        'INVALID_ARGUMENT',
        `a challenge names 1 to ${MAX_CHALLENGE_BLOCKS} blocks`
      )
    if (head.length === 0)
      throw new ScitError('INVALID_ARGUMENT', 'an empty core cannot be challenged')
    const nonce = b4a.alloc(32)
    sodium.randombytes_buf(nonce)
    const a = await this.request<ChallengeAnswer>(
      (id) => this.m.challenge.send({ id, core, nonce, length: head.length, count }),
      opts.timeout
    )
    if (a.error !== null) throw new ScitError('REJECTED', `challenge refused: ${a.error}`)
    return verifyStorage(head, nonce, count, a)
  }

  close(): void {
    this.channel.close()
    this.requests.failAll('channel closed')
  }

  private onStatus(r: StatusRequest): void {
    const h = this.handler
    if (!h) return // not a node: nothing to report; the asker times out
    this.m.status.send({
      id: r.id,
      node: h.node,
      statusCore: h.statusCore,
      logCore: h.logCore,
      workloads: h.workloads()
    })
  }

  private async onChallenge(ch: Challenge): Promise<void> {
    const reply = (
      error: string | null,
      answer: { roots: ChallengeAnswer['roots']; blocks: ChallengeAnswer['blocks'] } = {
        roots: [],
        blocks: []
      }
    ): void => {
      this.m.answer.send({ id: ch.id, error, ...answer })
    }
    const core = this.handler?.held(ch.core) ?? null
    if (core === null) return reply('core not held')
    if (ch.count === 0 || ch.count > MAX_CHALLENGE_BLOCKS)
      return reply(`a challenge names 1 to ${MAX_CHALLENGE_BLOCKS} blocks`)
    try {
      reply(null, await proveStorage(core, ch.nonce, ch.length, ch.count))
    } catch (err) {
      reply((err as Error).message)
    }
  }

  private async request<T>(send: (id: number) => void, timeout = DEFAULT_TIMEOUT): Promise<T> {
    if (this.channel.closed) throw new ScitError('CLOSED', 'node channel is closed')
    return this.requests.request<T>(send, timeout, 'the peer')
  }
}
