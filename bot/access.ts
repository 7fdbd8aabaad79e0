/** `scit bot grant` / `revoke`: a signed instruction that nodes apply from the contract core (docs/ARCHITECTURE.md "Service access"). */
import b4a from 'b4a'
import { ScitError } from '../lib/errors'
import { encodeKey, decodeKey } from '../lib/keys'
import type { SignedInstruction } from '../lib/contract'
import type { Bot } from './bot'
import type { DeploymentRecord } from './records'
import { requirePhase } from './phase'

/** How long `grant` waits for the contract's nodes to hold the new instruction before it returns (a command exits, its bot with it). */
export const DELIVERY_TIMEOUT = 10_000

/** Sign a grant (or a revoke) of `key` for `workload` (null: every service of the contract). */
export async function grantAccess(
  bot: Bot,
  d: DeploymentRecord,
  key: Buffer,
  workload: string | null,
  revoke = false
): Promise<SignedInstruction> {
  requirePhase(d, 'grant')
  const w = await bot.writer(d)
  const services = w.view.current.manifest.workloads.filter((x) => x.ports.length > 0)
  if (services.length === 0)
    throw new ScitError(
      'INVALID_ARGUMENT',
      `contract ${d.id} has no service: none of its workloads declares ports`
    )
  if (workload !== null && !services.some((x) => x.name === workload)) {
    throw new ScitError(
      'INVALID_ARGUMENT',
      `contract ${d.id} has no service "${workload}": its services are ${services.map((x) => x.name).join(', ')}`
    )
  }
  const action = revoke ? 'revoke' : 'grant'
  const ins = await w.appendInstruction({
    action,
    grant: { workload: workload ?? '', key },
    reason: `${action} ${encodeKey(key)}`
  })
  bot.progress(
    action,
    `${d.id}: ${encodeKey(key)} ${revoke ? 'may no longer connect to' : 'may connect to'} ${workload ?? 'every service'} (instruction ${ins.seq})`,
    d.id
  )
  return ins
}

/** Wait at most `timeout` ms for every node of a live lease of `d` to hold the core's length; resolves with those that do not. */
export async function delivered(
  bot: Bot,
  d: DeploymentRecord,
  timeout = DELIVERY_TIMEOUT
): Promise<string[]> {
  const core = (await bot.writer(d)).core
  const length = core.length
  const nodes = [...new Set(d.trades.filter((t) => t.phase === 'settled').map((t) => t.node))]
  const missing = (): string[] =>
    nodes.filter(
      (n) =>
        !core.peers.some(
          (p) => b4a.equals(p.remotePublicKey, decodeKey(n)) && p.remoteLength >= length
        )
    )
  const until = Date.now() + timeout
  while (missing().length > 0 && Date.now() < until)
    await new Promise((resolve) => setTimeout(resolve, 100))
  return missing()
}
