/**
 * Buying capacity for a deployment: bids placed, re-placed with back-off when they
 * expire unfilled, then trades settled. A bid is recorded with its unique expiry
 * before it is submitted, so after a crash it is adopted from the ledger rather than
 * placed twice. A trade above budget is closed unsettled: a faulty market cannot overcharge.
 */
import { ScitError } from '../lib/errors'
import type { MarketClient, BidBody, Outcome, Trade } from '../market/types'
import type { BotState, BidRecord, DeploymentRecord, TradeRecord } from './records'
import { until, pause } from './wait'
import { logger } from '../lib/log'
import { whyUnfilled } from './unfilled'
import safetyCatch from 'safety-catch'

const log = logger('bot/trader')

/** One line of what the bot did; `about`: the deployment it concerns (bot.ts routes each line to whoever follows that one). */
export type Progress = (step: string, detail: string, about?: string) => void

export interface TraderOptions {
  /** ms a bid may rest unfilled before it is cancelled and placed again. */
  bidWindow: number
  attempts: number
  /** First back-off between attempts (ms), doubled each time. */
  backoff: number
  progress: Progress
  signal: AbortSignal
}

export interface FillOptions {
  /** Wall-clock ms: give up (TIMEOUT) once it passes, cancelling the bid in flight. */
  deadline?: number
  /** Default the trader's. */
  attempts?: number
}

/** The buying failed for good: the deployment closes what it bought (bot/deployment.ts abandon). */
export class NotFilled extends ScitError {}

export const DEFAULT_TRADER: Omit<TraderOptions, 'progress' | 'signal'> = {
  bidWindow: 60_000,
  attempts: 3,
  backoff: 1000
}

export class Trader {
  /** The one loop following each bid record (fillOne): two at once would each place the bid. */
  private readonly filling = new Map<BidRecord, Promise<void>>()

  constructor(
    private readonly client: MarketClient,
    private readonly state: BotState,
    private readonly opts: TraderOptions
  ) {}

  plan(
    d: DeploymentRecord,
    workload: string,
    body: BidBody,
    replaces: string | null = null
  ): BidRecord {
    const rec: BidRecord = {
      workload,
      attempt: 1,
      body: { ...body, expiry: this.uniqueExpiry(body.expiry) },
      id: null,
      phase: 'intent',
      reason: null,
      replaces
    }
    d.bids.push(rec)
    this.state.save()
    return rec
  }

  /**
   * Resolves with the trades made. Throws NotFilled when refused (REJECTED), unfilled after
   * `attempts` (CAPACITY) or at `deadline` (TIMEOUT); every bid has ended by then.
   */
  async fill(d: DeploymentRecord, opts: FillOptions = {}): Promise<TradeRecord[]> {
    const open = d.bids.filter(
      (b) => this.filling.has(b) || b.phase === 'intent' || b.phase === 'submitted'
    )
    const ends = await Promise.allSettled(open.map((b) => this.follow(d, b, opts)))
    const failed = ends.find((e): e is PromiseRejectedResult => e.status === 'rejected')
    if (failed) throw failed.reason
    return d.trades
  }

  /**
   * A bid record already followed is joined, not followed twice: a restarted `scit bot run` resumes a deployment while
   * its monitor follows the same replacement bid, and two loops each submitted it (the soak, seed 27: the first bid
   * filled unnoticed, its trade held the node's capacity unsettled for the settlement window, the replica stayed lost).
   */
  private follow(d: DeploymentRecord, rec: BidRecord, opts: FillOptions): Promise<void> {
    let p = this.filling.get(rec)
    if (p === undefined) {
      p = this.fillOne(d, rec, opts).finally(() => this.filling.delete(rec))
      this.filling.set(rec, p)
    }
    return p
  }

  private async fillOne(d: DeploymentRecord, rec: BidRecord, opts: FillOptions): Promise<void> {
    const attempts = opts.attempts ?? this.opts.attempts
    while (true) {
      if (rec.phase === 'intent') await this.submit(d, rec)
      if (rec.phase === 'submitted') await this.await(d, rec, opts.deadline)
      if (rec.phase === 'filled') return this.adopt(d, rec)
      if (rec.phase === 'rejected')
        throw new NotFilled(
          'REJECTED',
          `the market refused the bid for ${rec.workload}: ${rec.reason ?? ''}; ${whyUnfilled(await this.client.offers({ selling: true }), rec.body)}`
        )
      const why = whyUnfilled(await this.client.offers({ selling: true }), rec.body)
      const late = (): boolean => opts.deadline !== undefined && Date.now() >= opts.deadline
      const timeout = (): NotFilled =>
        new NotFilled(
          'TIMEOUT',
          `no offer filled ${rec.workload} in time (${rec.attempt} ${rec.attempt === 1 ? 'bid' : 'bids'} for ${rec.body.replicas} × at most ${rec.body.maxPrice}/replica-hour): ${why}`
        )
      if (late()) throw timeout()
      if (rec.attempt >= attempts) {
        throw new NotFilled(
          'CAPACITY',
          `no offer filled ${rec.workload} (${rec.body.replicas} × within ${rec.body.maxPrice}/replica-hour) after ${rec.attempt} bids: ${why}`
        )
      }
      // capped: with no bound on attempts (a deadline instead), the back-off must not outgrow a bid's window
      let wait = Math.min(this.opts.backoff * 2 ** (rec.attempt - 1), this.opts.bidWindow)
      if (opts.deadline !== undefined)
        wait = Math.max(0, Math.min(wait, opts.deadline - Date.now()))
      this.say(
        d,
        'rebid',
        `${rec.workload}: bid ${rec.attempt} ${rec.phase} unfilled (${why}), bidding again in ${wait} ms`
      )
      await pause(wait, this.opts.signal)
      if (late()) throw timeout()
      rec.attempt++
      rec.id = null
      rec.phase = 'intent'
      rec.reason = null
      rec.body = { ...rec.body, expiry: this.uniqueExpiry(Date.now() + this.opts.bidWindow) }
      this.state.save()
    }
  }

  private async submit(d: DeploymentRecord, rec: BidRecord): Promise<void> {
    // A bid sent before a restart is in the view, or still on its way there (the outbox keeps it until final).
    const found =
      (await this.client.bids({ bot: this.client.identity })).find(
        (b) => b.expiry === rec.body.expiry
      ) ?? this.client.sentBids().find((b) => b.body.expiry === rec.body.expiry)
    if (found) {
      this.say(
        d,
        'bid',
        `${rec.workload}: bid ${found.id} was placed before a restart: following it`
      )
      rec.id = found.id
    } else {
      // Engine time is the ops' signed timestamps: a peer whose clock runs ahead moves it, and an expiry from this
      // machine's clock may already be past there (refused as invalid, for good). A bid rests a window of either.
      const market = await this.client.time()
      if (market > Date.now() && rec.body.expiry < market + this.opts.bidWindow / 2) {
        rec.body = { ...rec.body, expiry: this.uniqueExpiry(market + this.opts.bidWindow) }
        this.state.save()
      }
      const [id] = await this.client.submit([{ type: 'bid', body: rec.body }])
      rec.id = id
      this.say(
        d,
        'bid',
        `${rec.workload}: ${rec.body.replicas} × replica at most ${rec.body.maxPrice}/h, bid ${id}`
      )
    }
    rec.phase = 'submitted'
    this.state.save()
    const outcome = await this.outcome(rec.id)
    if (!outcome.accepted) this.refused(d, rec, outcome)
  }

  private refused(d: DeploymentRecord, rec: BidRecord, o: Outcome): void {
    rec.phase = 'rejected'
    rec.reason = `${o.reason ?? 'refused'}: ${o.message ?? ''}`
    this.state.save()
    this.say(d, 'refused', `${rec.workload}: the market refused bid ${o.id}: ${rec.reason}`)
  }

  /** Cancel the bid once its expiry or the caller's deadline passes on our own clock. */
  private async await(d: DeploymentRecord, rec: BidRecord, deadline?: number): Promise<void> {
    const id = rec.id as string
    const settledState = async (): Promise<boolean> => {
      const bid = await this.client.bid(id)
      return bid !== null && bid.state !== 'open'
    }
    const ended = await until(this.client, settledState, {
      deadline: Math.min(rec.body.expiry, deadline ?? Infinity),
      signal: this.opts.signal
    })
    log.debug('bid wait ended', { bid: id, ended })
    if (!ended) {
      const [cid] = await this.client.submit([{ type: 'cancel', body: { bid: id } }])
      const o = await this.outcome(cid)
      // bad-state: it filled (or expired) in the meantime; the bid's state below says which
      log.debug('cancel outcome', { bid: id, accepted: o.accepted, reason: o.reason })
      if (!o.accepted && o.reason !== 'bad-state')
        this.say(
          d,
          'refused',
          `${rec.workload}: cancel of bid ${id} refused: ${o.reason ?? ''} ${o.message ?? ''}`
        )
      // open in the view yet expired while judging the cancel: a refused op commits nothing,
      // so the view shows it only after the next accepted op. Past its expiry it cannot fill.
      const now = await this.client.bid(id)
      if (o.reason === 'bad-state' && now?.state === 'open') {
        rec.phase = 'expired'
        rec.reason = `bid ${id} expired`
        this.state.save()
        return
      }
      await until(this.client, settledState, { signal: this.opts.signal })
    }
    const bid = await this.client.bid(id)
    if (bid === null) throw new ScitError('NOT_FOUND', `bid ${id} vanished from the market view`)
    rec.phase = bid.state === 'filled' ? 'filled' : bid.state === 'open' ? 'submitted' : bid.state
    if (rec.phase !== 'filled') rec.reason = `bid ${bid.id} ${bid.state}`
    this.state.save()
  }

  /** Once per bid; a trade above budget is closed before any money moves. */
  private async adopt(d: DeploymentRecord, rec: BidRecord): Promise<void> {
    const bid = await this.client.bid(rec.id as string)
    for (const tid of bid?.trades ?? []) {
      if (d.trades.some((t) => t.id === tid)) continue
      const trade = await this.client.trade(tid)
      if (trade === null)
        throw new ScitError('NOT_FOUND', `trade ${tid} of bid ${rec.id ?? ''} is not in the view`)
      d.trades.push({
        id: tid,
        workload: rec.workload,
        node: trade.node,
        price: trade.price,
        phase: 'matched',
        replaces: rec.replaces,
        reason: null
      })
      this.state.save()
      this.say(
        d,
        'trade',
        `${rec.workload}: trade ${tid} on node ${trade.node.slice(0, 8)} at ${trade.price}/h`
      )
      if (trade.price > rec.body.maxPrice) {
        await this.end(
          d,
          tid,
          'close',
          `price ${trade.price} above the budget ${rec.body.maxPrice}`
        )
        throw new NotFilled(
          'REJECTED',
          `trade ${tid} costs ${trade.price}/h, above the budget ${rec.body.maxPrice}: closed unsettled`
        )
      }
    }
  }

  /** Idempotent across restarts. */
  async settle(d: DeploymentRecord, contract: Buffer, manifest: Buffer): Promise<void> {
    const todo = d.trades.filter((t) => t.phase === 'matched')
    const ids: string[] = []
    for (const t of todo) {
      const now = await this.client.trade(t.id)
      if (now !== null && now.state !== 'matched') {
        this.track(t, now)
        continue
      }
      ids.push(t.id)
    }
    if (ids.length === 0) return this.state.save()
    const sent = await this.client.submit(
      ids.map((trade) => ({ type: 'settle', body: { trade, contract, manifest } }))
    )
    const outcomes = await Promise.all(sent.map((id) => this.outcome(id)))
    const poor = outcomes.find((o) => !o.accepted && o.reason === 'insufficient-funds')
    for (let i = 0; i < ids.length; i++) {
      const t = d.trades.find((x) => x.id === ids[i]) as TradeRecord
      const o = outcomes[i]
      if (o.accepted) {
        t.phase = 'settled'
        this.say(d, 'settle', `trade ${t.id}: escrow locked, bound to the contract`)
      } else {
        this.say(
          d,
          'refused',
          `settle of trade ${t.id} refused: ${o.reason ?? ''}: ${o.message ?? ''}`
        )
        const now = await this.client.trade(t.id)
        if (now) this.track(t, now)
      }
    }
    this.state.save()
    // released (the settlement window passed first): bought again by the deployment (deployment.ts rebuyReleased)
    const bad = todo.filter((t) => t.phase !== 'settled' && t.phase !== 'released')
    if (bad.length && poor)
      throw new NotFilled(
        'REJECTED',
        `the market refused to settle: ${poor.message ?? 'insufficient funds'}; fund this bot (${this.client.identity}): a faucet runs scit market deposit ${this.client.identity} AMOUNT, anyone scit market transfer ${this.client.identity} AMOUNT`
      )
    if (bad.length)
      throw new ScitError(
        'REJECTED',
        `trades not settled: ${bad.map((t) => `${t.id} (${t.phase})`).join(', ')}`
      )
  }

  /** `close` (the bot ends a lease) or `fail` (the node is gone): the market refunds the unused part. */
  async end(
    d: DeploymentRecord,
    id: string,
    type: 'close' | 'fail',
    reason: string
  ): Promise<void> {
    const t = d.trades.find((x) => x.id === id)
    const now = await this.client.trade(id)
    if (now !== null && now.state !== 'matched' && now.state !== 'settled') {
      if (t) {
        this.track(t, now)
        this.state.save()
      }
      return
    }
    // the market refuses a reason over 256 characters, and a deployment's error can be longer
    const said = reason.length > 256 ? reason.slice(0, 255) + '…' : reason
    const [oid] = await this.client.submit([{ type, body: { trade: id, reason: said } }])
    const o = await this.outcome(oid)
    const ended = o.accepted ? null : await this.client.trade(id)
    if (ended != null && ended.state !== 'matched' && ended.state !== 'settled') {
      // ended meanwhile (the market's clock, or this bot's other task ending it): what was wanted
      if (t) {
        this.track(t, ended)
        this.state.save()
      }
      return
    }
    if (!o.accepted) {
      this.say(
        d,
        'refused',
        `${type} of trade ${id} refused: ${o.reason ?? ''}: ${o.message ?? ''}`
      )
      throw new ScitError(
        'REJECTED',
        `${type} of trade ${id} refused: ${o.reason ?? ''}: ${o.message ?? ''}`
      )
    }
    const after = await this.client.trade(id)
    if (t) {
      t.reason = reason
      if (after) this.track(t, after)
      this.state.save()
    }
    this.say(d, type, `trade ${id}: ${reason}; refunded ${after?.refunded ?? 0}`)
  }

  /** CLOSED as soon as the bot closes: the client would keep waiting until its timeout. */
  outcome(id: string, timeout?: number): Promise<Outcome> {
    const signal = this.opts.signal
    const p = this.client.outcome(id, { final: true, timeout })
    p.catch(safetyCatch) // an abort below settles first: p's own rejection (CLOSED, TIMEOUT) is not news then
    return new Promise((resolve, reject) => {
      const onabort = (): void => reject(new ScitError('CLOSED', 'the bot is closing'))
      if (signal.aborted) return onabort()
      signal.addEventListener('abort', onabort, { once: true })
      p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onabort))
    })
  }

  private track(t: TradeRecord, now: Trade): void {
    t.phase = now.state
  }

  private say(d: DeploymentRecord, step: string, detail: string): void {
    this.opts.progress(step, detail, d.id)
  }

  /** Unique among this bot's bids, so it names the bid in the ledger. */
  private uniqueExpiry(want: number): number {
    const used = new Set(this.state.deployments.flatMap((d) => d.bids.map((b) => b.body.expiry)))
    let e = want
    while (used.has(e)) e++
    return e
  }
}
