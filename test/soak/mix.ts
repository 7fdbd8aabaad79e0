/**
 * The examples' workload mix, driven as their users would with the CLI: each bot deploys a CRM (legal and IT
 * sign it) before the faults; during them bot B deploys an AI-mining job, an archive in DE, stops the job and
 * deploys another, and bot A deploys the banking feature (EU) and rolls it from 1.2.0 to 1.3.0. A bot command
 * runs with that bot's `scit bot run` stopped around it (one process holds a bot's data dir); an armed step kills
 * the command inside it (between bid and settle, or settle and deploy), and `scit bot run` resumes the rest.
 */
import fs from 'fs'
import path from 'path'
import type { Cluster } from './cluster'
import type { Injector } from './injector'
import { sleep } from './injector'
import type { Step, Critical } from './schedule'
import { runToEnd } from './procs'
import safetyCatch from 'safety-catch'

const EXAMPLES = path.join(__dirname, '..', '..', '..', 'examples')
const COMMAND_TIMEOUT = 5 * 60_000

interface Deploy {
  id: string
  template: string
  set: string[]
  signers: string[]
}

const DEPLOYS: Record<Step['what'], (n: number) => Deploy> = {
  crm: () => ({
    id: 'crm',
    template: 'crm.yaml',
    set: ['users=50', 'country=CH'],
    signers: ['legal', 'it']
  }),
  job: (n) => ({ id: `job-${n}`, template: 'ai-mining.yaml', set: ['workers=1'], signers: [] }),
  archive: () => ({
    id: 'archive',
    template: 'archive.yaml',
    set: ['capacity=2MB', 'country=DE', 'data=1', 'parity=1'],
    signers: []
  }),
  banking: () => ({
    id: 'banking',
    template: 'banking-feature.yaml',
    set: ['release=1.2.0', 'region=EU'],
    signers: ['legal', 'it']
  })
}

interface DeploymentDoc {
  id: string
  contract: string | null
  phase: string
  manifestHash: string
}

export function deployments(cluster: Cluster, bot: string): DeploymentDoc[] {
  try {
    const doc = JSON.parse(
      fs.readFileSync(path.join(cluster.data(bot), 'bot', 'state.json'), 'utf8')
    ) as {
      deployments: DeploymentDoc[]
    }
    return doc.deployments
  } catch {
    return []
  }
}

export class Mix {
  readonly done: string[] = []
  private jobs = 0
  private readonly queues = new Map<string, Promise<void>>()
  private stopped = false

  constructor(
    private readonly cluster: Cluster,
    private readonly injector: Injector,
    private readonly say: (line: string) => void
  ) {}

  /** The CRMs, one per bot, then every `scit bot run`. */
  async warmup(): Promise<void> {
    await Promise.all(
      this.cluster.cast.bots.map((bot) => this.deploy(bot, DEPLOYS.crm(0), null, true))
    )
    for (const bot of this.cluster.cast.bots) await this.injector.restart(this.cluster.proc(bot))
  }

  stop(): void {
    this.stopped = true
  }

  /** Each step at `t0 + at`, a bot's steps one after the other. */
  async run(t0: number, steps: Step[]): Promise<void> {
    await Promise.all(
      steps.map(async (s) => {
        await sleep(Math.max(0, t0 + s.at - Date.now()))
        const prev = this.queues.get(s.bot) ?? Promise.resolve()
        const next = prev.then(() => this.step(s))
        this.queues.set(s.bot, next)
        await next
      })
    )
  }

  private async step(s: Step): Promise<void> {
    if (this.stopped) return
    this.say(`step: ${s.bot} ${s.action} ${s.what}${s.arm ? ` (kill armed: ${s.arm})` : ''}`)
    if (s.action === 'deploy') {
      const d = DEPLOYS[s.what](s.what === 'job' ? ++this.jobs : 0)
      await this.deploy(s.bot, d, s.arm ?? null, false)
    } else if (s.action === 'stop') {
      await this.command(s.bot, 'stop', ['bot', 'stop', `job-${this.jobs}`], null, null)
    } else {
      const before = deployments(this.cluster, s.bot).find((d) => d.id === 'banking')
      if (before === undefined || before.phase !== 'running') {
        this.say(
          `step skipped: ${s.bot} has no running banking feature to update (${before?.phase ?? 'none'})`
        )
        return
      }
      await this.command(
        s.bot,
        'update',
        ['bot', 'update', 'banking', '--set', 'release=1.3.0'],
        null,
        {
          id: 'banking',
          signers: ['legal', 'budget'],
          ready: (d) => d.manifestHash !== before.manifestHash
        }
      )
    }
    this.done.push(`${s.bot} ${s.action} ${s.what}`)
  }

  private async deploy(bot: string, d: Deploy, arm: Critical | null, wait: boolean): Promise<void> {
    const args = [
      'bot',
      'deploy',
      path.join(EXAMPLES, d.template),
      ...d.set.flatMap((x) => ['--set', x]),
      '--id',
      d.id,
      '--timeout',
      '4m'
    ]
    if (wait) args.push('--wait', 'running')
    await this.command(bot, `deploy-${d.id}`, args, arm, {
      id: d.id,
      signers: d.signers,
      ready: (x) => x.contract !== null && (x.phase === 'approvals' || x.phase === 'header')
    })
  }

  /** `scit bot ARGS` for `bot` with its run stopped, signatures given when it waits for them, an armed kill. */
  private async command(
    bot: string,
    label: string,
    args: string[],
    arm: Critical | null,
    sign: { id: string; signers: string[]; ready: (d: DeploymentDoc) => boolean } | null
  ): Promise<void> {
    await this.injector.locked(bot, () => this.commandNow(bot, label, args, arm, sign))
  }

  private async commandNow(
    bot: string,
    label: string,
    args: string[],
    arm: Critical | null,
    sign: { id: string; signers: string[]; ready: (d: DeploymentDoc) => boolean } | null
  ): Promise<void> {
    const run = this.cluster.proc(bot)
    const o = this.injector.outage({ name: bot, kind: 'bot-command', from: Date.now() })
    await run.term()
    // a deploy holds 2 s after its header when armed there: the kill lands inside the step, not after its burst
    const env = arm === 'settle-deploy' ? { SCIT_SOAK_HOLD: 'settle-deploy:2000' } : undefined
    const cmd = this.cluster.command(
      `${bot}-${label}`,
      [...args, '--data', this.cluster.data(bot)],
      {
        env
      }
    )
    let disarm = (): void => {}
    if (arm !== null) {
      // settle-deploy: from the header (every trade settled, the manifest written) until the deploy instruction;
      // the last "→ settle" line comes a few ms before the header, too soon for a kill to land after it
      const trigger = arm === 'bid-settle' ? /^→ bid / : /^→ header /
      const after = arm === 'bid-settle' ? /^→ settle / : /^→ deploy /
      let finished = false
      let fired = false
      disarm = cmd.watch((line) => {
        if (after.test(line)) finished = true
        if (fired || !trigger.test(line)) return
        fired = true
        this.injector.fired[`${arm}-kill`] = (this.injector.fired[`${arm}-kill`] ?? 0) + 1
        this.say(
          `armed kill: ${cmd.name} between ${arm.replace('-', ' and ')} (${line.slice(0, 60)})`
        )
        void cmd.kill9().then((e) => {
          if (!finished && e.signal === 'SIGKILL') this.injector.landed[arm]++
        })
      })
    }
    const signing = sign !== null && sign.signers.length > 0 ? this.signWhenAsked(bot, sign) : null
    const end = await runToEnd(cmd, COMMAND_TIMEOUT)
    disarm()
    if (end.code !== 0 && end.signal !== 'SIGKILL')
      this.say(
        `${cmd.name} ended ${end.code ?? end.signal ?? ''}: ${cmd.tail.slice(-2).join(' | ')}`
      )
    await this.injector.restart(run)
    o.to = Date.now()
    // the stakeholders go on signing when bot run asks them, beside the next steps, until the soak ends
    signing?.catch(safetyCatch)
  }

  /** Sign as each of `signers` once the bot asks (its state names the contract), until the bot has the weight. */
  private async signWhenAsked(
    bot: string,
    s: { id: string; signers: string[]; ready: (d: DeploymentDoc) => boolean }
  ): Promise<void> {
    // A stakeholder signs whenever asked, as long as the soak runs: a deploy slowed by faults is not a violation
    const current = (): DeploymentDoc | undefined =>
      deployments(this.cluster, bot).find((d) => d.id === s.id)
    let d = current()
    while (d === undefined || !s.ready(d)) {
      if (this.stopped || (d !== undefined && (d.phase === 'failed' || d.phase === 'stopped')))
        return
      await sleep(500)
      d = current()
    }
    if (d === undefined || d.contract === null) return
    const signed = new Set<string>()
    while (signed.size < s.signers.length && !this.stopped) {
      for (const role of s.signers.filter((r) => !signed.has(r))) {
        const p = this.cluster.command(
          `sign-${role}`,
          ['bot', 'sign', d.contract, '--data', this.cluster.data(role), '--yes', '--json'],
          { market: false }
        )
        const end = await runToEnd(p, 90_000).catch(() => null) // null: the soak is over
        if (end === null || this.stopped) return
        if (end.code === 0) signed.add(role)
        else if (/BAD_STATE|already/.test(p.tail.join(' '))) signed.add(role)
      }
      if (signed.size < s.signers.length) await sleep(3000)
    }
    if (signed.size < s.signers.length)
      this.say(
        `${bot} ${s.id}: ${[...signed].join(',') || 'nobody'} of ${s.signers.join(',')} signed before the soak ended`
      )
  }
}
