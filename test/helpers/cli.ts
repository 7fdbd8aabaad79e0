/** Test helpers for `scit` as a user runs it, in this process (see scit below). */
import type { Assert } from 'brittle'
import { program } from '../../lib/cli'
import { loadIdentity, KeyPair } from '../../lib/identity'
import { encodeKey } from '../../lib/keys'
import type { Testnet } from '../../lib/testnet'
import type { MarketPeer } from '../../market/peer'
import type { Run } from './runtime'

/**
 * Run `scit …` in this process, capturing what it prints. In-process because
 * separate processes on this loopback testnet do not reach each other in
 * every sandbox; the command code is the same.
 */
export async function scit(args: string[]): Promise<Run> {
  let stdout = ''
  let stderr = ''
  const out = process.stdout.write.bind(process.stdout)
  const err = process.stderr.write.bind(process.stderr)
  process.stdout.write = ((chunk: string) => {
    stdout += chunk
    return true
  }) as typeof process.stdout.write
  process.stderr.write = ((chunk: string) => {
    stderr += chunk
    if (process.env.SCIT_TEST_ECHO) err(chunk)
    return true
  }) as typeof process.stderr.write
  process.exitCode = 0
  try {
    await program()
      .exitOverride()
      .parseAsync(['node', 'scit', ...args])
  } finally {
    process.stdout.write = out
    process.stderr.write = err
  }
  const code = Number(process.exitCode ?? 0)
  process.exitCode = 0
  return { code, stdout, stderr }
}

/** --data, --bootstrap (the testnet) and, when given, --market. */
export function common(net: Testnet, market: MarketPeer | null, data: string): string[] {
  return [
    '--data',
    data,
    '--bootstrap',
    net.bootstrap.map((b) => `${b.host}:${b.port}`).join(','),
    ...(market ? ['--market', encodeKey(market.key)] : [])
  ]
}

/** A fresh data dir whose identity the market's faucet funded. */
export async function funded(
  t: Assert,
  founder: MarketPeer,
  amount = 1_000_000
): Promise<{ data: string; identity: KeyPair }> {
  const data = await t.tmp()
  const identity = loadIdentity(data)
  const [o] = await founder.client.submitAndWait([
    { type: 'deposit', body: { to: identity.publicKey, amount } }
  ])
  if (!o.accepted) throw new Error('deposit refused')
  return { data, identity }
}
