/**
 * The AI data-mining story (examples/ai-mining.yaml): the node signs the digest of the
 * job's result in its status core; the demo checks it against a local run; the bot closes
 * the lease at the exit (refund) and fetches result.json from the node, verified.
 */
import { workloadId } from '../../lib/trade-workload'
import fs from 'fs'
import os from 'os'
import path from 'path'
import { spawnSync } from 'child_process'
import b4a from 'b4a'
import { ScitError } from '../../lib/errors'
import { decodeKey } from '../../lib/keys'
import { deploy, waitRunning } from '../../bot/deployment'
import { fetchResult } from '../../bot/result'
import type { Bot } from '../../bot/bot'
import type { DeploymentRecord, TradeRecord } from '../../bot/records'
import { pause } from '../../bot/wait'
import { readCore } from '../../lib/status'
import type { StatusRecord } from '../../lib/node-messages'
import { StreamDigest } from '../../node/output'
import { resolveCommand } from '../../node/launch'
import { Stage, EXAMPLES, nodeName, within } from './stage'

export interface JobResult {
  id: string
  contract: string
  trade: string
  node: string
  /** BLAKE2b-256 of result.json, hex, as the node signed it in its status core. */
  reported: string
  /** The same, from a local run over the same files. */
  expected: string
  refunded: number
}

export async function job(s: Stage): Promise<JobResult> {
  const { bot, r } = s
  r.wait('the bot bids for one batch job, anywhere')
  const d = await within(
    s,
    'deploying the job',
    deploy(bot, {
      template: path.join(EXAMPLES, 'ai-mining.yaml'),
      set: { workers: 1 },
      id: 'ai-mining'
    })
  )
  const t = d.trades[0]
  const node = nodeName(s, t.node)
  r.ok(
    `bought 1 replica on ${node} at ${t.price}/hour, the cheapest offer of all; contract ${(d.contract ?? '').slice(0, 8)}…`,
    'no placement constraint: the market picks the lowest price'
  )

  r.wait(`${node} runs mine.js over 3 input files`)
  const rec = await within(s, 'the job', finalStatus(bot, t))
  if (rec.state !== 'exited' || rec.output === null)
    throw new ScitError('DEMO', `the job ${rec.state} on ${node}: ${rec.reason}`)
  const reported = b4a.toString(rec.output, 'hex')
  const expected = localDigest(bot, d)
  if (reported !== expected)
    throw new ScitError(
      'VERIFICATION',
      `${node} reports result.json ${reported}, a local run gives ${expected}`
    )
  r.ok(
    `the job exited 0 on ${node}; result.json has BLAKE2b-256 ${reported.slice(0, 16)}…, the same as a local run`,
    "the node signs the digest into its status core; the bot reads it from there, not from the node's word on a socket"
  )

  r.wait('the bot ends the lease of the finished job')
  // what scit bot deploy --wait running does: the exit the node signed ends the lease (bot/jobs.ts)
  await within(s, 'ending the job', waitRunning(bot, d, { deadline: Date.now() + s.patience }))
  const closed = await bot.client.trade(t.id)
  const refunded = closed?.refunded ?? 0
  if (closed?.state !== 'closed' || d.phase !== 'finished')
    throw new ScitError('DEMO', `the job's lease is ${closed?.state ?? 'gone'}, not closed`)
  r.ok(
    `its lease ended with the job: ${refunded} of its unused escrow refunded to the bot, no stop needed`,
    'the node keeps what the lease earned while it ran'
  )

  r.wait(`fetching result.json from ${node}`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-demo-result-'))
  try {
    const f = await within(
      s,
      'fetching the result',
      fetchResult(bot, d, t, 'result.json', path.join(dir, 'result.json'), 10_000)
    )
    r.ok(
      `result.json came back from ${node}: ${f.size} bytes, their BLAKE2b-256 the digest ${node} signed`,
      `${node} keeps it for the template's retain (2d) after the lease; scit bot result ${d.id} fetches it`
    )
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return { id: d.id, contract: d.contract ?? '', trade: t.id, node, reported, expected, refunded }
}

/** Read from the node's status core, replicated over the bot's connection to it. */
async function finalStatus(bot: Bot, t: TradeRecord): Promise<StatusRecord> {
  let ch = bot.nodeChannel(t.node)
  while (ch === null) {
    await pause(100, bot.abort.signal)
    ch = bot.nodeChannel(t.node)
  }
  const summary = await ch.status({ timeout: 5000 })
  const core = bot.store.get({ key: summary.statusCore })
  await core.ready()
  try {
    const id = workloadId(t)
    let from = 0
    while (true) {
      await core.update({ wait: true }).catch(() => false)
      const end = core.length
      const { records } = await readCore<StatusRecord>(core, decodeKey(t.node), 'status', {
        start: from,
        end,
        timeout: 5000
      })
      from = end
      const done = records.find(
        (x) => x.body.workload === id && (x.body.state === 'exited' || x.body.state === 'failed')
      )
      if (done) return done.body
      await Promise.race([
        new Promise((resolve) => core.once('append', resolve)),
        pause(500, bot.abort.signal)
      ])
    }
  } finally {
    await core.close()
  }
}

/** Digest the output file the way nodes do. */
function localDigest(bot: Bot, d: DeploymentRecord): string {
  const w = bot.manifestOf(d).workloads[0]
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-demo-job-'))
  try {
    for (const src of d.sources) fs.copyFileSync(src.source, path.join(dir, src.path))
    if (w.command[0] !== 'node' || w.output === null)
      throw new ScitError(
        'DEMO',
        'the ai-mining job is expected to be a node script with an output file'
      )
    // spawnSync, which Bare has too; "node" resolved as a node resolves it (on Bare, the node on PATH).
    const [file, ...args] = resolveCommand(w.command)
    const r = spawnSync(file, args, { cwd: dir, stdio: 'ignore', timeout: 30_000 })
    if (r.status !== 0)
      throw new ScitError(
        'DEMO',
        `the ai-mining job failed when run here (exit ${String(r.status)})`
      )
    const digest = new StreamDigest()
    digest.update(fs.readFileSync(path.join(dir, w.output)))
    return b4a.toString(digest.digest(), 'hex')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
