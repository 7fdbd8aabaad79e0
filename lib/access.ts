/**
 * Who may connect to a contract's services (docs/ARCHITECTURE.md "Service access"): the manifest's
 * `access` resolved against the contract's bot and stakeholders, then every
 * signed grant and revoke in the order of the core. A node's DHT firewall
 * asks `mayConnect` before any byte reaches a workload; `scit connect` asks
 * it too, to say ACCESS instead of waiting on a refusal it cannot see.
 */
import b4a from 'b4a'
import type { Manifest, ManifestWorkload, Instruction } from './contract-messages'

/** Resolved access of one workload: keys as hex. */
export interface AccessList {
  public: boolean
  keys: Set<string>
}

export function baseAccess(w: ManifestWorkload, m: Manifest, bot: Buffer): AccessList {
  const keys = new Set(w.access.keys.map((k) => b4a.toString(k, 'hex')))
  for (const role of w.access.roles) {
    if (role === 'bot') keys.add(b4a.toString(bot, 'hex'))
    for (const s of m.stakeholders.signers)
      if (role === 'stakeholders' || s.role === role) keys.add(b4a.toString(s.key, 'hex'))
  }
  return { public: w.access.public, keys }
}

/** The access of every workload of `m` after the grants and revokes among `instructions`, in order. */
export function resolveAccess(
  m: Manifest,
  bot: Buffer,
  instructions: Instruction[]
): Record<string, AccessList> {
  const out: Record<string, AccessList> = {}
  for (const w of m.workloads) out[w.name] = baseAccess(w, m, bot)
  for (const ins of instructions) {
    if (ins.grant === null || (ins.action !== 'grant' && ins.action !== 'revoke')) continue
    const hex = b4a.toString(ins.grant.key, 'hex')
    for (const [name, list] of Object.entries(out)) {
      if (ins.grant.workload !== '' && ins.grant.workload !== name) continue
      if (ins.action === 'grant') list.keys.add(hex)
      else list.keys.delete(hex)
    }
  }
  return out
}

export function mayConnect(list: AccessList | null | undefined, key: Buffer): boolean {
  if (!list) return false
  return list.public || list.keys.has(b4a.toString(key, 'hex'))
}
