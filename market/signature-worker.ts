/** Checks envelopes for market/signature-pool.ts with the same `open()` the engine runs, so its answer is the engine's. */
import { parentPort } from 'worker_threads'
import b4a from 'b4a'
import { open, type Opened } from '../lib/envelope'
import { MARKET_TYPES } from './engine'

parentPort?.on('message', (m: { seq: number; bytes: Uint8Array; lengths: number[] }) => {
  const all = b4a.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength)
  const results: Opened[] = []
  let at = 0
  for (const n of m.lengths) {
    const r = open(all.subarray(at, (at += n)), { accept: MARKET_TYPES })
    // Fresh arrays of their own size: a view would clone the whole chunk back.
    results.push(
      r.ok
        ? {
            ...r,
            envelope: {
              ...r.envelope,
              author: copy(r.envelope.author),
              body: copy(r.envelope.body),
              signature: copy(r.envelope.signature)
            }
          }
        : r
    )
  }
  parentPort?.postMessage({ seq: m.seq, results })
})

function copy(b: Uint8Array): Buffer {
  return new Uint8Array(b) as Buffer
}
