/**
 * Waiting for outcomes (market/outcomes.ts) against a scripted ledger: the
 * races between a waiter's first look, the apply hints and the final length
 * are played in a fixed order here, which a network test only hits by luck.
 */
import test from 'brittle'
import type { Assert } from 'brittle'
import type { Entry } from 'hyperbee'
import { Outcomes, OutcomeSource } from '../market/outcomes'
import type { Hint } from '../market/types'
import { encode, outcomeRecord } from '../market/messages'
import * as K from '../market/engine/keys'
import type { Outcome } from '../market/types'

class ScriptedLedger implements OutcomeSource {
  finalVersion = 0
  hints: Hint[] = []
  readonly entries = new Map<string, Entry>()
  /** Reads started while `holding` answer (with what the view held when they started) only on `release`. */
  holding = false
  private held: Array<() => void> = []
  readonly view = {
    core: { length: 0 },
    get: (key: string) => this.read(key),
    batch: () => ({ get: (key: string) => this.read(key), close: async () => {} })
  }

  takeApplied(): { hints: Hint[]; lookAllAt: number } {
    const hints = this.hints
    this.hints = []
    return { hints, lookAllAt: 0 }
  }

  appliedYet(): boolean {
    return true
  }

  /** The engine decided `outcome` in view block `seq`; the apply call left the view `seq + 1` long. */
  apply(outcome: Outcome, seq: number): void {
    const key = K.accepted(outcome.id)
    this.entries.set(key, { seq, key, value: encode(outcomeRecord, outcome) })
    this.view.core.length = seq + 1
    this.hints.push({ id: outcome.id, outcome, length: seq + 1 })
  }

  release(): void {
    for (const answer of this.held.splice(0)) answer()
  }

  private read(key: string): Promise<Entry | null> {
    const value = this.entries.get(key) ?? null
    if (!this.holding) return Promise.resolve(value)
    return new Promise((resolve) => this.held.push(() => resolve(value)))
  }
}

const outcome: Outcome = {
  id: 'a'.repeat(52),
  type: 'bid',
  author: 'b'.repeat(52),
  time: 1,
  accepted: true,
  reason: null,
  message: null,
  trades: []
}

function scripted(t: Assert): { ledger: ScriptedLedger; outcomes: Outcomes } {
  const ledger = new ScriptedLedger()
  const outcomes = new Outcomes(ledger)
  t.teardown(() => outcomes.close())
  return { ledger, outcomes }
}

/** Let every promise that can settle now settle. */
async function settled(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
}

test('a first look that found nothing does not undo a hint noted while it ran: the waiter gets the final outcome', async (t) => {
  const { ledger, outcomes } = scripted(t)

  ledger.holding = true
  const waiting = outcomes.wait(outcome.id, true, 10_000) // its first look starts on the empty view, and is held
  await settled()
  ledger.holding = false
  ledger.apply(outcome, 5) // applied, not final: the hint is noted
  outcomes.check()
  await settled()
  ledger.release() // the first look now answers "nothing"
  await settled()
  ledger.finalVersion = 6 // the block is final: the waiter must hear of it
  outcomes.check()
  t.alike(await waiting, outcome, 'the final outcome reaches the waiter')
})

test('a hint for a view longer than readers see waits until they see it, even with no waiter yet', async (t) => {
  const { ledger, outcomes } = scripted(t)

  ledger.apply(outcome, 5)
  ledger.view.core.length = 3 // the apply call's view is ahead of the one readers get
  ledger.entries.clear()
  outcomes.check() // the hint is taken before anyone waits, and before readers can see it
  await settled()
  const waiting = outcomes.wait(outcome.id, false, 10_000) // looks now: finds nothing
  await settled()
  ledger.entries.set(K.accepted(outcome.id), {
    seq: 5,
    key: K.accepted(outcome.id),
    value: encode(outcomeRecord, outcome)
  })
  ledger.view.core.length = 6 // readers catch up
  outcomes.check()
  t.alike(await waiting, outcome, 'the waiter gets it from the kept hint')
})

test('an outcome is final only if it was below the final length when the read began', async (t) => {
  const { ledger, outcomes } = scripted(t)

  ledger.apply(outcome, 5)
  ledger.holding = true
  const final = outcomes.wait(outcome.id, true, 10_000)
  const applied = outcomes.wait(outcome.id, false, 10_000)
  await settled()
  ledger.finalVersion = 6 // the final length passes the block while the reads are in flight
  ledger.holding = false
  ledger.release()
  t.alike(await applied, outcome, 'an applied outcome settles a waiter that does not ask for final')
  let done = false
  final.then(
    () => {
      done = true
    },
    () => {}
  )
  await settled()
  t.absent(done, 'a read begun before the block was final does not settle a final waiter')
  outcomes.check() // the update that moved the final length
  t.alike(await final, outcome, 'the next look does')
})

test('a look that straddles the update moving the final length past its find is looked at again: a final waiter is not left waiting on an idle market', async (t) => {
  const { ledger, outcomes } = scripted(t)

  ledger.apply(outcome, 5) // another peer's op, applied here, not final yet
  outcomes.check() // its hint: no waiter yet
  await settled()
  ledger.holding = true
  const final = outcomes.wait(outcome.id, true, 2_000) // its first look reads block 5 while nothing is final
  await settled()
  ledger.finalVersion = 6 // the indexers fix the order: the update that says so runs its check before the look answers
  outcomes.check()
  await settled()
  ledger.holding = false
  ledger.release() // the look answers "applied, not final" (the final length was 0 when it began)
  // Nothing else happens: the market is idle, no update will come again.
  t.alike(await final, outcome, 'the waiter gets the final outcome without another update')
})
