/**
 * `scit bot sign` (a stakeholder, under its own --data) and `scit bot
 * approvals`. Sign fetches the contract core from its bot over the approvals
 * topic. Approvals reads it where it is nearest: from the bot `scit bot run`
 * serves, from this bot's own store when nothing holds it, else from the
 * contract's bot on the DHT, under a key of its own (the bot's own key
 * cannot connect to the bot) and for a bounded time.
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import readline from 'readline'
import Corestore from 'corestore'
import { configFrom, output } from '../lib/command'
import { createSwarm } from '../lib/swarm'
import { ScitError } from '../lib/errors'
import { loadIdentity, generateKeyPair, KeyPair } from '../lib/identity'
import { decodeKey, encodeKey } from '../lib/keys'
import { privateDir } from '../lib/datadir'
import { readContract, ContractView } from '../lib/contract'
import { ioOf } from '../lib/io'
import { ContractSession } from './sign'
import { manifestSummary } from './stakeholders'
import { servedBot } from './control'
import { BotState, DeploymentRecord } from './records'
import type { RunFlags } from './cli-open'
import safetyCatch from 'safety-catch'

/** How long approvals and sign look for the contract's bot on the DHT. */
const SESSION_TIMEOUT = 30_000

/** This data dir's deployment `ref`, when it is a bot's that has one. */
function local(data: string, ref: string): DeploymentRecord | null {
  if (!fs.existsSync(path.join(data, 'bot', 'state.json'))) return null
  try {
    return new BotState(data).load().find(ref)
  } catch {
    return null
  }
}

/** Fetch a contract core from its bot over the approvals topic, with a throw-away store. */
async function withSession<T>(
  contract: Buffer,
  flags: RunFlags,
  identity: KeyPair,
  fn: (s: ContractSession) => Promise<T>
): Promise<T> {
  const config = configFrom(flags)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-sign-'))
  const store = new Corestore(dir)
  const swarm = createSwarm(config, identity)
  const s = new ContractSession({ store, swarm, contract, timeout: SESSION_TIMEOUT })
  try {
    await s.ready()
    return await fn(s)
  } finally {
    await s.close().catch(safetyCatch)
    await swarm.destroy()
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** The contract as this bot's store has it, when no process holds the store; null when one does. */
async function fromOwnStore<T>(
  data: string,
  d: DeploymentRecord,
  fn: (v: ContractView) => T
): Promise<T | null> {
  const store = new Corestore(privateDir(path.join(data, 'bot', 'corestore')))
  try {
    await store.ready()
  } catch (err) {
    await store.close().catch(safetyCatch)
    if (/lock/i.test((err as Error).message)) return null
    throw err
  }
  try {
    const core = store.get({ key: decodeKey(d.contract ?? '', 'contract key') })
    const view = await readContract(
      core,
      { coreKey: core.key, botKey: loadIdentity(data).publicKey },
      { wait: false }
    )
    return fn(view)
  } finally {
    await store.close()
  }
}

function summary(flags: RunFlags, v: ContractView): void {
  const { reached, ...a } = v.approvalSummary()
  output(flags, a, () =>
    [
      `manifest ${a.manifestHash}: weight ${a.weight} of ${a.threshold}${reached ? ' (reached)' : ''}`,
      ...a.signers.map(
        (y) =>
          `  ${y.signed ? 'signed ' : 'pending'} ${y.role.padEnd(10)} ${y.key} weight ${y.weight}`
      )
    ].join('\n')
  )
}

export async function cmdApprovals(ref: string, flags: RunFlags): Promise<void> {
  const served = servedBot(flags)
  if (served !== null) {
    const w = await served.writer(served.state.find(ref))
    return summary(flags, w.view)
  }
  const data = configFrom(flags).data
  const d = local(data, ref)
  if (d !== null && d.contract !== null) {
    if ((await fromOwnStore(data, d, (v) => summary(flags, v))) !== null) return
  }
  // read-only: any key will do, and the bot's own could not connect to the bot
  const contract = decodeKey(d?.contract ?? ref, 'contract key')
  await withSession(contract, flags, generateKeyPair(), async (s) => summary(flags, s.view))
}

export async function cmdSign(ref: string, flags: RunFlags): Promise<void> {
  const io = ioOf(flags)
  const data = configFrom(flags).data
  const identity = loadIdentity(data)
  const contract = decodeKey(local(data, ref)?.contract ?? ref, 'contract key')
  await withSession(contract, flags, identity, async (s) => {
    if (s.view.state().stopped)
      throw new ScitError(
        'BAD_STATE',
        `contract ${encodeKey(s.core.key)} is stopped: nothing to sign`
      )
    const role = flags.role ?? s.roleOf(identity.publicKey)
    if (!flags.json) io.err(manifestSummary(s.view.current.manifest) + '\n\n')
    if (role === null)
      io.err(
        `warning: ${encodeKey(identity.publicKey)} is not a stakeholder of this manifest: the bot will refuse the signature\n`
      )
    if (
      !flags.yes &&
      !(await confirm(
        `sign manifest ${s.view.current.hash.toString('hex').slice(0, 16)}… as ${role ?? 'none'} (${encodeKey(identity.publicKey).slice(0, 8)})? [y/N] `
      ))
    ) {
      throw new ScitError('REJECTED', 'not signed')
    }
    const { result } = await s.sign(identity, role ?? undefined)
    if (!result.accepted)
      throw new ScitError('REJECTED', `the bot refused the signature: ${result.reason ?? ''}`)
    output(
      flags,
      {
        contract: encodeKey(s.core.key),
        manifestHash: s.view.current.hash.toString('hex'),
        role,
        weight: result.weight,
        threshold: result.threshold
      },
      () =>
        `signed: weight ${result.weight} of ${result.threshold}${result.weight >= result.threshold ? ' — threshold reached, the nodes may run it' : ''}`
    )
  })
}

function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr })
  return new Promise((resolve) =>
    rl.question(question, (answer) => {
      rl.close()
      resolve(/^y(es)?$/i.test(answer.trim()))
    })
  )
}
