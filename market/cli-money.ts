/** `scit market deposit | transfer | balance`; only the genesis faucets may deposit (the engine refuses others). */
import { Command } from 'commander'
import { withCommon, configFrom, output, action, CommonFlags } from '../lib/command'
import { ScitError } from '../lib/errors'
import { loadIdentity } from '../lib/identity'
import { encodeKey, decodeKey } from '../lib/keys'
import { openCommandPeer, submitFinal } from './cli-peer'
import { parseDuration } from '../lib/duration'

interface MoveFlags extends CommonFlags {
  timeout: string
}

function parseAmount(text: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new ScitError(
      'INVALID_ARGUMENT',
      `amount "${text}" must be a whole number of the market's smallest unit, from 1 to 2^53 - 1 (${Number.MAX_SAFE_INTEGER})`
    )
  }
  return n
}

export function register(market: Command): void {
  for (const type of ['deposit', 'transfer'] as const) {
    withCommon(market.command(`${type} <to> <amount>`))
      .summary(
        type === 'deposit' ? 'mint funds to a key (faucets only)' : 'send funds to another key'
      )
      .description(
        type === 'deposit'
          ? 'as a faucet named in the market genesis, mint AMOUNT (smallest unit) to the identity TO'
          : "send AMOUNT (smallest unit) from this identity's balance to the identity TO"
      )
      .option('--timeout <duration>', 'how long to wait for the op to be final', '60s')
      .action(
        action(async (toText: string, amountText: string, flags: MoveFlags) => {
          const config = configFrom(flags)
          const body = { to: decodeKey(toText, 'recipient'), amount: parseAmount(amountText) }
          const { peer, close } = await openCommandPeer(config, loadIdentity(config.data))
          try {
            const { id } = await submitFinal(
              peer,
              { type, body },
              parseDuration(flags.timeout),
              `the ${type}`
            )
            const balance = await peer.client.balance(toText)
            output(
              flags,
              { op: id, to: encodeKey(body.to), amount: body.amount, balance },
              () => `${type} of ${body.amount} to ${toText} is final; its balance is ${balance}`
            )
          } finally {
            await close()
          }
        })
      )
  }

  withCommon(market.command('balance [key]'))
    .summary('show a balance (default: this identity)')
    .description(
      "show the balance of KEY (default: this data directory's identity), from the final view"
    )
    .action(
      action(async (keyText: string | undefined, flags: CommonFlags) => {
        const config = configFrom(flags)
        const key =
          keyText === undefined
            ? encodeKey(loadIdentity(config.data).publicKey)
            : encodeKey(decodeKey(keyText, 'key'))
        const { peer, close } = await openCommandPeer(config, null)
        try {
          const balance = await peer.client.balance(key)
          output(flags, { key, balance }, () => String(balance))
        } finally {
          await close()
        }
      })
    )
}
