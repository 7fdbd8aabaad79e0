/**
 * Buying capacity for a deployment: bids placed, re-placed with back-off when they
 * expire unfilled, then trades settled. A bid is recorded with its unique expiry
 * before it is submitted, so after a crash it is adopted from the ledger rather than
 * placed twice. A trade above budget is closed unsettled: a faulty market cannot overcharge; so is one whose
 * node this bot cannot reach, and its replicas are bid for again elsewhere.
 */
import { ScitError, isScitError } from '../lib/errors'
import { shortKey } from '../lib/keys'
import { LIMITS } from '../market/messages'
import { decodeManifest } from '../lib/contract'
import type { MarketClient, BidBody, Outcome, Trade } from '../market/types'
import type { BotState, BidRecord, DeploymentRecord, TradeRecord } from './records'
import { until, pause } from './wait'
import { logger } from '../lib/log'
import { whyUnfilled, fitting } from './unfilled'
import { toSettle, inFlight } from './phase'
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
  /** ms to reach a matched trade's node before settling it (connect and ping); 0: settle unchecked. */
  reachTimeout: number
  /** Whether this bot reaches `node` within `timeout` ms (bot.ts reaches); absent: every node counts as reached. */
  reaches?: (node: string, timeout: number) => Promise<boolean>
  /** The nodes a heal's bid avoids now (monitor.ts avoided); null or absent: a bid's exclude is kept as planned. */
  avoided?: () => Promise<string[] | null>
  /** The nodes this bot holds a connection to now (bot.ts linked); absent: none is preferred. */
  linked?: () => ReadonlySet<string>
  progress: Progress
  signal: AbortSignal
}

export interface FillOptions {
  /** Wall-clock ms: give up (TIMEOUT) once it passes, cancelling the bid in flight. */
  deadline?: number
  /** Default the trader's. */
  attempts?: number
  /**
   * Follow only these bids (a heal's own), not every open one of the deployment: another heal's bid that does not
   * fill holds nothing up (the soak, seed 2700 on 345be28: an archive's replacement, filled and reached, waited 130 s
   * for another shard's bid to give up in a region with no room, and the archive stayed short).
   */
  only?: BidRecord[]
}

/** The buying failed for good: the deployment closes what it bought (bot/deployment.ts abandon). */
export class NotFilled extends ScitError {}

export type TraderHooks = 'progress' | 'signal' | 'reaches' | 'avoided' | 'linked'

export const DEFAULT_TRADER: Omit<TraderOptions, TraderHooks> = {
  bidWindow: 60_000,
  attempts: 3,
  backoff: 1000,
  reachTimeout: 10_000
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
    replaces: string | null = null,
    hard?: string[]
  ): BidRecord {
    const rec: BidRecord = {
      workload,
      attempt: 1,
      body: { ...body, expiry: this.uniqueExpiry(body.expiry) },
      id: null,
      phase: 'intent',
      reason: null,
      replaces,
      ...(hard !== undefined ? { hard } : {})
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
    await this.closeUnreached(d) // marked before a restart, their close not done
    const open = d.bids.filter(
      (b) =>
        (opts.only === undefined || opts.only.includes(b)) &&
        (this.filling.has(b) || inFlight(d, b))
    )
    const ends = await Promise.allSettled(open.map((b) => this.follow(d, b, opts)))
    const failed = ends.find((e): e is PromiseRejectedResult => e.status === 'rejected')
    if (failed) throw failed.reason
    return d.trades
  }

  /** Whether `t` is a trade of a bid still being followed: its node not yet found reachable, not to be named or settled. */
  following(t: TradeRecord): boolean {
    for (const rec of this.filling.keys())
      if (rec.id !== null && t.id.startsWith(`${rec.id}.`)) return true
    return false
  }

  /**
   * Whether a bid replacing trade `id` is followed now: in flight even between two of its bids, while its record is
   * `expired` for the back-off.
   */
  replacing(id: string): boolean {
    for (const rec of this.filling.keys()) if (rec.replaces === id) return true
    return false
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
    const late = (): boolean => opts.deadline !== undefined && Date.now() >= opts.deadline
    while (true) {
      if (rec.phase === 'intent') await this.submit(d, rec)
      if (rec.phase === 'submitted') await this.await(d, rec, opts.deadline)
      if (rec.phase === 'filled') {
        await this.adopt(d, rec)
        if (await this.reached(d, rec, rec.attempt < attempts && !late())) return
        continue // the record is a new bid now, for what the unreached nodes held
      }
      if (rec.phase === 'rejected')
        throw new NotFilled(
          'REJECTED',
          `the market refused the bid for ${rec.workload}: ${rec.reason ?? ''}; ${whyUnfilled(await this.client.offers({ selling: true }), rec.body)}`
        )
      const why = whyUnfilled(await this.client.offers({ selling: true }), rec.body)
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
      await this.exclusion(d, rec)
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
    // Refused as a replay, the client sealed it again (market/client.ts): the bid is its copy.
    if (outcome.id !== rec.id) {
      rec.id = outcome.id
      this.state.save()
    }
    if (!outcome.accepted) this.refused(d, rec, outcome)
  }

  /**
   * A heal's bid avoids the nodes avoided at the moment it is placed, each time (monitor.ts avoided): kept from its first
   * bid, a preference outlived its cause (the soak, seed 2700 on a867766: a CRM's heal excluded all 3 nodes of its
   * region, its bids expired unfilled for 280 s, then it gave up; the next heal bought one of them in 10 s). When they
   * leave no offer that fits, it bids without them (but the replaced lease's node, if that leaves one; else with its
   * hard exclusion only, also when nothing fits at all): a possibly-bad node beats no service, and `reached`
   * still refuses one this bot cannot reach (then excluded by this record for good, so it cannot spend its attempts).
   */
  private async exclusion(d: DeploymentRecord, rec: BidRecord): Promise<void> {
    const hard = rec.hard
    const avoided = hard !== undefined ? await this.opts.avoided?.() : null
    if (hard === undefined || avoided == null) return
    // the hard part last: the cap keeps it
    const list = (xs: string[]): string[] => [...new Set([...xs, ...hard])].slice(-LIMITS.exclude)
    const offers = await this.client.offers({ selling: true })
    const fits = (xs: string[]): boolean => fitting(offers, { ...rec.body, exclude: xs }).length > 0
    // the node the replaced lease failed on goes last: the likeliest to be gone, its offer listed until its TTL
    const own = d.trades.find((t) => t.id === rec.replaces)?.node
    const last = own !== undefined && avoided.includes(own) ? list([own]) : null
    let exclude = list(avoided)
    if (!fits(exclude)) {
      // and when nothing fits at all, with its hard exclusion only: an avoided node that sells again can fill it then
      // (the soak, seed 2700 on 1b0a0ce: a CRM's heal bid rested 58 s past n1 back with room, which it avoided)
      const less = last !== null && fits(last) ? last : list([])
      const soft = exclude.filter((n) => !less.includes(n))
      const why = fits(less)
        ? 'every matching offer is from an avoided node'
        : 'no offer fits now, and one of these may sell again'
      if (soft.length > 0)
        this.say(
          d,
          'avoid',
          `${rec.workload}: ${why}: bidding without avoiding ${soft.map(shortKey).join(', ')}`
        )
      exclude = less
    }
    // of what fits, the nodes this bot holds a connection to first: the market fills the cheapest offer, and one from a
    // node cut off from this bot costs a reach timeout and a bid attempt each (the soak, seed 2700 on dd46ac0: a job's
    // heal bought three such nodes in turn while a fourth it was connected to had room, gave up, and tried again 30 s
    // later). Only when some node that fits is connected: a bot that reaches none still tries each (reached).
    const linked = this.opts.linked?.()
    if (linked !== undefined) {
      const fit = fitting(offers, { ...rec.body, exclude }).map((o) => o.node)
      const far = fit.filter((n) => !linked.has(n))
      if (far.length > 0 && far.length < fit.length) exclude = list([...far, ...exclude])
    }
    rec.body = { ...rec.body, exclude }
    this.state.save()
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
      // Not in the view, and never will be once the market's time is past its expiry (the engine refuses it as
      // invalid then): the soak (seed 2700) saw a heal's bid op reach the indexers only after a cut, a kill and its
      // expiry; each later follow's cancel was refused not-found and waited on for good, the heal never bid again.
      const endedOrNever = async (): Promise<boolean> => {
        const bid = await this.client.bid(id)
        return bid !== null ? bid.state !== 'open' : (await this.client.time()) > rec.body.expiry
      }
      await until(this.client, endedOrNever, { signal: this.opts.signal })
      if ((await this.client.bid(id)) === null) {
        rec.phase = 'expired'
        rec.reason = `bid ${id} never reached the market before its expiry`
        this.state.save()
        this.say(d, 'lapsed', `${rec.workload}: ${rec.reason}`)
        return
      }
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

  /**
   * A matched trade is settled only with a node this bot reaches now. The market lists a node's offer until its TTL
   * though the node is down or cut off (the soak, seed 2700: heals bought n0 32 s into its cut from every peer, n4 14 s
   * into its own, and each waited out a grace for a replica that never started). One not reached in `reachTimeout` is
   * marked, closed unsettled (no money moved) and its node avoided for a while (monitor.ts avoided); the record bids
   * again at once for what those held, without their nodes, one attempt more (`again`; else it gives up, NotFilled).
   * The marks and the new bid are one save: a restart finds both (fill closes the marked) or neither (fill follows
   * the filled record again: `unfinished`).
   * A bot that reaches no node at all (itself cut off) closes one trade per attempt, each after `reachTimeout`, then
   * gives up like an unfilled bid; its monitor tries a heal again 30 s later without those nodes, bidding on them again
   * once avoidFor has passed: it never settles what it cannot watch, and never spins.
   */
  private async reached(d: DeploymentRecord, rec: BidRecord, again: boolean): Promise<boolean> {
    const reaches = this.opts.reaches
    if (reaches === undefined || this.opts.reachTimeout <= 0 || layout(d, rec)) return true
    const bid = await this.client.bid(rec.id as string)
    const mine = d.trades.filter((t) => toSettle(t) && bid?.trades.includes(t.id))
    const ok = await Promise.all(mine.map((t) => reaches(t.node, this.opts.reachTimeout)))
    if (this.opts.signal.aborted) throw new ScitError('CLOSED', 'the bot is closing')
    const lost = mine.filter((_, i) => !ok[i])
    if (lost.length === 0) return true
    const now = Date.now()
    for (const t of lost) t.unreached = now
    const nodes = lost.map((t) => t.node)
    if (again) {
      // spread: nor on the nodes of the trades it keeps
      const kept = rec.body.spread ? mine.filter((t) => !lost.includes(t)).map((t) => t.node) : []
      const exclude = [...new Set([...rec.body.exclude, ...kept, ...nodes])].slice(-LIMITS.exclude)
      // a heal's record keeps off them while it lasts: bid again without avoiding, it would buy them again
      if (rec.hard !== undefined) rec.hard = [...new Set([...rec.hard, ...kept, ...nodes])]
      rec.attempt++
      rec.id = null
      rec.phase = 'intent'
      rec.reason = null
      rec.body = {
        ...rec.body,
        replicas: lost.length,
        exclude,
        expiry: this.uniqueExpiry(Date.now() + this.opts.bidWindow)
      }
    } else {
      rec.phase = 'cancelled'
      rec.reason = `nodes unreachable from this bot: ${nodes.map(shortKey).join(', ')}`
    }
    this.state.save()
    await this.closeUnreached(d)
    for (const t of lost)
      this.say(
        d,
        'unreachable',
        `node ${shortKey(t.node)} unreachable from this bot: trade ${t.id} closed unsettled, ${again ? 'bidding again without it' : 'giving up'}`
      )
    if (!again)
      throw new NotFilled(
        'CAPACITY',
        `no node this bot reaches filled ${rec.workload} after ${rec.attempt} bids: ${rec.reason ?? ''}`
      )
    return false
  }

  /**
   * Close the trades marked unreached that are still matched. One whose close is not decided now is tried again at the
   * next fill; unsettled, it lapses at the settlement window anyway (released; not bought again: its bid was).
   */
  private async closeUnreached(d: DeploymentRecord): Promise<void> {
    for (const t of d.trades.filter((x) => x.phase === 'matched' && x.unreached !== undefined)) {
      try {
        await this.end(d, t.id, 'close', `node ${shortKey(t.node)} unreachable from this bot`)
      } catch (err) {
        if (isScitError(err, 'CLOSED')) throw err
        log.warn('close of an unreached trade failed', { trade: t.id, err: (err as Error).message })
      }
    }
  }

  /** Idempotent across restarts. */
  async settle(d: DeploymentRecord, contract: Buffer, manifest: Buffer): Promise<void> {
    const todo = d.trades.filter((t) => toSettle(t) && !this.following(t))
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

/**
 * An archive group's first bid is its layout (archive-deploy.ts writeLayout: the trades of that one bid): not bid for
 * again piecemeal. A holder there the bot cannot reach stays silent, and is healed (repaired) like one that went away.
 */
function layout(d: DeploymentRecord, rec: BidRecord): boolean {
  if (rec.replaces !== null) return false
  const w = decodeManifest(Buffer.from(d.manifest, 'hex')).workloads.find(
    (x) => x.name === rec.workload
  )
  return w?.archive != null
}
