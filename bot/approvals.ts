/**
 * Stakeholder sign-off over the swarm ("scit/approvals/v1"), not the market: the
 * contract core is already an approval's verifiable home, so the ledger need not
 * store private review traffic. Bot and stakeholder meet on a namespaced topic of
 * the core key; the bot appends only what `verifyApproval` accepts, else says why.
 */
import c from 'compact-encoding'
import Protomux, { Channel, Message } from 'protomux'
import type { SwarmConnection } from 'hyperswarm'
import { ScitError } from '../lib/errors'
import { Requests } from '../lib/requests'
import { struct, optional } from '../lib/codec'
import { logger } from '../lib/log'
import { Approval, approvalEncoding, VerificationError } from '../lib/contract'

const log = logger('bot/approvals')

export const APPROVALS_PROTOCOL = 'scit/approvals/v1'
const DEFAULT_TIMEOUT = 15_000

export interface SubmitMessage {
  id: number
  contract: Buffer
  approval: Approval
}
export interface ResultMessage {
  id: number
  accepted: boolean
  reason: string | null
  weight: number
  threshold: number
}

const submitEncoding = struct<SubmitMessage>([
  ['id', c.uint],
  ['contract', c.fixed32],
  ['approval', approvalEncoding]
])
const resultEncoding = struct<ResultMessage>([
  ['id', c.uint],
  ['accepted', c.bool],
  ['reason', optional(c.string)],
  ['weight', c.uint],
  ['threshold', c.uint]
])

export type ApprovalReceiver = (
  contract: Buffer,
  approval: Approval
) => Promise<{ weight: number; threshold: number }>

/** One end of the protocol on one connection. Both ends open it; only a bot passes a receiver. */
export class ApprovalChannel {
  private readonly channel: Channel
  private readonly submitMsg: Message<SubmitMessage>
  private readonly resultMsg: Message<ResultMessage>
  private readonly requests = new Requests()

  static attach(conn: SwarmConnection, receiver: ApprovalReceiver | null): ApprovalChannel | null {
    const mux = Protomux.from(conn)
    if (mux.opened({ protocol: APPROVALS_PROTOCOL })) return null
    return new ApprovalChannel(mux, receiver)
  }

  private constructor(
    mux: Protomux,
    private readonly receiver: ApprovalReceiver | null
  ) {
    const channel = mux.createChannel({
      protocol: APPROVALS_PROTOCOL,
      onclose: () => this.requests.failAll('the approvals channel closed')
    })
    if (channel === null)
      throw new ScitError(
        'INVALID_ARGUMENT',
        `${APPROVALS_PROTOCOL} is already open on this connection`
      )
    this.channel = channel
    this.submitMsg = channel.addMessage({
      encoding: submitEncoding,
      onmessage: (m) => this.onsubmit(m)
    })
    this.resultMsg = channel.addMessage({
      encoding: resultEncoding,
      onmessage: (r) => this.requests.settle(r.id, r)
    })
    channel.open()
  }

  get closed(): boolean {
    return this.channel.closed
  }

  opened(): Promise<boolean> {
    return this.channel.fullyOpened()
  }

  submit(contract: Buffer, approval: Approval, timeout = DEFAULT_TIMEOUT): Promise<ResultMessage> {
    if (this.channel.closed)
      return Promise.reject(new ScitError('CLOSED', 'the approvals channel is closed'))
    return this.requests.request<ResultMessage>(
      (id) => this.submitMsg.send({ id, contract, approval }),
      timeout,
      'the bot'
    )
  }

  close(): void {
    this.channel.close()
    this.requests.failAll('the approvals channel closed')
  }

  private onsubmit(m: SubmitMessage): void {
    const reply = (r: Omit<ResultMessage, 'id'>): void => {
      this.resultMsg.send({ id: m.id, ...r })
    }
    if (this.receiver === null)
      return reply({ accepted: false, reason: 'not a bot', weight: 0, threshold: 0 })
    this.receiver(m.contract, m.approval).then(
      ({ weight, threshold }) => reply({ accepted: true, reason: null, weight, threshold }),
      (err: Error) => {
        log.info('approval refused', { err: err.message })
        reply({
          accepted: false,
          reason:
            err instanceof VerificationError || err instanceof ScitError
              ? err.message
              : 'internal error',
          weight: 0,
          threshold: 0
        })
      }
    )
  }
}
