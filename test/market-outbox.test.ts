/**
 * The outbox (market/outbox.ts) on its own, with a clock the test moves: which
 * ops go out again, when, and what a restart brings back.
 */
import test from 'brittle'
import { Outbox } from '../market/outbox'
import { envelopeId, seal } from '../lib/envelope'
import { generateKeyPair } from '../lib/identity'
import { encodeBody } from '../market/engine/ops'
import { offerOp } from './helpers/ledger'
import { ClockAhead, MAX_AHEAD } from '../market/clock'
import { ScitError } from '../lib/errors'

const AFTER = 10_000

function envelopes(n: number, timestamp = Date.now()): Buffer[] {
  const author = generateKeyPair()
  const body = encodeBody('offer', offerOp().body as never)
  return Array.from({ length: n }, (_, i) =>
    seal(author, { type: 'offer', seq: i + 1, timestamp, body })
  )
}

/** An outbox over an in-memory user data map; `final` and `clock` are the test's to set. */
function outbox(
  data = new Map<string, Buffer | null>(),
  whole = false
): {
  box: Outbox
  sent: Buffer[][]
  final: Set<string>
  stuck: boolean[]
  clock: { now: number }
  data: Map<string, Buffer | null>
} {
  const sent: Buffer[][] = []
  const stuck: boolean[] = []
  const final = new Set<string>()
  const clock = { now: 0 }
  const box = new Outbox({
    core: () => ({
      getUserData: async (key) => data.get(key) ?? null,
      setUserData: async (key, value) => {
        data.set(key, value)
      }
    }),
    final: async (id) => final.has(id),
    resend: async (list, info) => {
      sent.push(list)
      stuck.push(info.stuck)
    },
    resendAfter: AFTER,
    whole,
    now: () => clock.now
  })
  return { box, sent, final, stuck, clock, data }
}

test('an op sent a moment before a check is in flight: only ops undecided for resendAfter go out again', async (t) => {
  const { box, sent, clock } = outbox()
  const [a, b] = envelopes(2)
  await box.add([a])
  clock.now = AFTER - 1
  await box.add([b])
  clock.now = AFTER
  await box.check()
  t.alike(sent, [[a]], 'the old op is sent again, the young one is not')
  clock.now = AFTER + 1
  await box.check()
  t.is(sent.length, 1, 'nothing is due: the resent op starts a new wait')
  clock.now = 2 * AFTER - 1
  await box.check()
  t.alike(sent[1], [b], 'the young op, once it waited as long')
  t.is(box.size, 2, 'both kept until final')
  box.close()
})

test("a follower's outbox stuck (no op final for two resend waits) sends every op not final, in order: the next relay gets no gap", async (t) => {
  const { box, sent, final, stuck, clock } = outbox(undefined, true)
  const [a, b, c, d] = envelopes(4)
  await box.add([a])
  clock.now = AFTER - 1
  await box.add([b, c])
  clock.now = AFTER
  await box.check()
  t.alike(sent, [[a]], 'slow, not stuck yet: the due op only')
  clock.now = 2 * AFTER - 1
  await box.add([d])
  clock.now = 2 * AFTER
  await box.check()
  t.alike(sent[1], [a, b, c, d], 'stuck: all of them, the young one too, in order')
  t.alike(stuck, [false, true], 'and the resend says it is stuck')
  final.add(envelopeId(a))
  clock.now = 3 * AFTER
  await box.check()
  t.alike(sent[2], [b, c, d], 'an op final again: progress, so only those due go')
  t.is(stuck[2], false)
})

test('final ops leave the outbox; a restart sends what the last run left at its first check', async (t) => {
  const first = outbox()
  const [a, b] = envelopes(2)
  await first.box.add([a, b])
  first.final.add(envelopeId(a))
  await first.box.check()
  t.is(first.box.size, 1, 'the final op left')
  t.is(first.sent.length, 0, 'the other is not due yet')
  first.box.close()

  const back = outbox(first.data)
  await back.box.open()
  t.is(back.box.size, 1, 'the undecided op is read back')
  await back.box.check()
  t.alike(back.sent, [[b]], 'and sent at once: nobody knows how long it waited')
  back.box.close()
})

test('a check asked for while another runs sees ops that became final meanwhile', async (t) => {
  const { box, final } = outbox()
  const [a] = envelopes(1)
  await box.add([a])
  const running = box.check() // reads `a` as undecided
  final.add(envelopeId(a)) // decided before that check ends
  await box.check()
  t.is(box.size, 0, 'the later check dropped the final op')
  await running
})

test("a relay's refusal of ops stamped ahead: a submit's ops all go (sealed anew), a resend's only those ahead; another failure keeps them", async (t) => {
  const { box } = outbox()
  const indexer = Date.now() // the refusing indexer's clock
  const [a, b] = envelopes(2, indexer) // on time
  const [c] = envelopes(1, indexer + MAX_AHEAD + 60_000) // stamped ahead
  await box.add([a, b, c])
  const ahead = new ClockAhead(indexer, 'stamped ahead')
  await t.exception(box.refused([a, c], ahead, { resealed: false }), /stamped ahead/, 'thrown on')
  t.alike(
    box.pending(),
    [a, b],
    'a resend refused: only the op stamped ahead left; the on-time one goes again'
  )
  await t.exception(
    box.refused([a], new ScitError('TIMEOUT', 'no relay'), { resealed: true }),
    /no relay/
  )
  t.alike(box.pending(), [a, b], 'another failure: nothing leaves')
  await t.exception(box.refused([a], ahead, { resealed: true }), /stamped ahead/)
  t.alike(
    box.pending(),
    [b],
    "a submit's refused ops all leave, on time or not: its client seals them anew"
  )
  box.close()
})
