/**
 * The stakeholder's side of sign-off (`scit bot sign`): replicate the contract core
 * from any peer that holds it (its bot, or the nodes that run it: both serve it on the
 * contract's topic), verify it as a node would, show the manifest, sign its hash. Only
 * the peer whose swarm key signed the header may take the approval, not whoever answers
 * first. `scit connect` reads contracts with it too.
 */
import ReadyResource from 'ready-resource'
import b4a from 'b4a'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import type Hyperswarm from 'hyperswarm'
import type { SwarmConnection } from 'hyperswarm'
import { ScitError } from '../lib/errors'
import type { KeyPair } from '../lib/identity'
import { encodeKey } from '../lib/keys'
import { open as openEnvelope } from '../lib/envelope'
import { readContract, ContractView, signManifest, Approval } from '../lib/contract'
import { approvalsTopic } from '../lib/topics'
import { ApprovalChannel, ResultMessage } from './approvals'
import safetyCatch from 'safety-catch'

export interface SessionOptions {
  store: Corestore
  swarm: Hyperswarm
  contract: Buffer
  timeout?: number
  /** false: something else replicates the store on every connection (a market peer that shares it). */
  replicate?: boolean
}

export class ContractSession extends ReadyResource {
  core!: Hypercore
  view!: ContractView
  bot!: Buffer
  private readonly channels = new Map<string, ApprovalChannel>()
  private readonly timeout: number
  private readonly onconnection = (conn: SwarmConnection): void => this.attach(conn)

  constructor(private readonly opts: SessionOptions) {
    super()
    this.timeout = opts.timeout ?? 30_000
  }

  protected override async _open(): Promise<void> {
    const o = this.opts
    this.core = o.store.get({ key: o.contract })
    await this.core.ready()
    o.swarm.on('connection', this.onconnection)
    for (const conn of o.swarm.connections) this.attach(conn)
    const discovery = o.swarm.join(approvalsTopic(o.contract), { server: false, client: true })
    const done = this.core.findingPeers()
    o.swarm.flush().then(done, done)
    // a lookup before the bot announced finds nobody, and the swarm would only retry minutes later
    const again = setInterval(() => {
      if (this.core.length === 0)
        discovery.refresh({ client: true, server: false }).catch(safetyCatch)
    }, 1000)
    const first = await this.core
      .get(0, { timeout: this.timeout })
      .catch(() => null)
      .finally(() => clearInterval(again))
    if (first === null)
      throw new ScitError(
        'TIMEOUT',
        `no peer served contract ${encodeKey(o.contract)} within ${this.timeout} ms: neither its bot nor a node that runs it answered`
      )
    const env = openEnvelope(first)
    if (!env.ok)
      throw new ScitError('VERIFICATION', `the contract header does not open: ${env.message}`)
    this.bot = env.envelope.author
    await this.core.update({ wait: true }).catch(() => false)
    this.view = await readContract(this.core, { coreKey: o.contract, botKey: this.bot })
  }

  protected override async _close(): Promise<void> {
    this.opts.swarm.off('connection', this.onconnection)
    for (const ch of this.channels.values()) ch.close()
    await this.opts.swarm.leave(approvalsTopic(this.opts.contract)).catch(safetyCatch)
    await this.core?.close()
  }

  private attach(conn: SwarmConnection): void {
    if (this.opts.replicate !== false) this.opts.store.replicate(conn)
    const ch = ApprovalChannel.attach(conn, null)
    if (ch === null) return
    const key = encodeKey(conn.remotePublicKey)
    this.channels.set(key, ch)
    conn.once('close', () => {
      if (this.channels.get(key) === ch) this.channels.delete(key)
    })
  }

  async refresh(): Promise<void> {
    await this.core.update({ wait: true }).catch(() => false)
    await this.view.refresh()
  }

  roleOf(key: Buffer): string | null {
    return (
      this.view.current.manifest.stakeholders.signers.find((s) => b4a.equals(s.key, key))?.role ??
      null
    )
  }

  /** Sign the manifest in force as `identity` and hand the approval to the bot. */
  async sign(
    identity: KeyPair,
    role?: string
  ): Promise<{ approval: Approval; result: ResultMessage }> {
    const r = role ?? this.roleOf(identity.publicKey) ?? 'none'
    const approval = signManifest(identity, this.view.current.hash, r)
    const result = await (
      await this.botChannel()
    ).submit(this.opts.contract, approval, this.timeout)
    return { approval, result }
  }

  private async botChannel(): Promise<ApprovalChannel> {
    const deadline = Date.now() + this.timeout
    while (Date.now() < deadline) {
      const ch = this.channels.get(encodeKey(this.bot))
      if (ch && !ch.closed && (await ch.opened())) return ch
      this.opts.swarm.joinPeer(this.bot)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new ScitError(
      'TIMEOUT',
      `the contract's bot ${encodeKey(this.bot)} is not reachable: it collects approvals while it runs (scit bot run)`
    )
  }
}
