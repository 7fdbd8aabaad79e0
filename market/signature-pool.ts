/**
 * Signatures checked ahead of the engine on worker threads. A worker runs the same `open()` and primes the engine's
 * memo by envelope id, so the outcome is what the engine would reach alone; if workers fail, it verifies inline.
 */
import os from 'os'
import { Worker } from 'worker_threads'
import path from 'path'
import b4a from 'b4a'
import { envelopeId } from '../lib/envelope'
import type { Envelope, Opened } from '../lib/envelope'
import { logger } from '../lib/log'
import { BARE } from '../lib/runtime'
import { isMemoised, prime } from './engine/open-memo'

const log = logger('verifier')
/** Fewer unchecked envelopes than this are verified inline: a round trip to a worker costs more. */
const INLINE = 16
/** Well under the memo's size. */
const AHEAD = 4096
const CHUNK = 256
const DONE = Promise.resolve()

export const verifierStats = { checked: 0 }

interface Pending {
  ids: string[]
  resolve: () => void
}

class Pool {
  private readonly workers: Worker[] = []
  private readonly pending = new Map<number, Pending>()
  private seq = 0
  private turn = 0
  broken = false

  constructor(size: number) {
    try {
      for (let i = 0; i < size; i++) {
        const w = new Worker(path.join(__dirname, 'signature-worker.js'))
        w.on('message', (m: { seq: number; results: Opened[] }) => this.done(m.seq, m.results))
        w.on('error', (err) => this.fail(err))
        // A worker that ends with checks pending would leave the apply loop waiting: verify inline from then on.
        w.on('exit', (code) => this.fail(new Error(`a signature worker exited (${code})`)))
        w.unref()
        this.workers.push(w)
      }
    } catch (err) {
      this.fail(err as Error)
    }
  }

  /** Resolves once the results are in the memo (or, on failure, not). */
  check(envelopes: Buffer[], ids: string[]): Promise<void> {
    if (this.broken || this.workers.length === 0) return Promise.resolve()
    const seq = ++this.seq
    const worker = this.workers[this.turn++ % this.workers.length]
    return new Promise((resolve) => {
      if (this.pending.size === 0) for (const w of this.workers) w.ref()
      this.pending.set(seq, { ids, resolve })
      // One buffer of their own, moved to the worker: an envelope is often a view into a much larger block.
      const bytes = new Uint8Array(envelopes.reduce((n, e) => n + e.byteLength, 0))
      let at = 0
      for (const e of envelopes) {
        bytes.set(e, at)
        at += e.byteLength
      }
      worker.postMessage({ seq, bytes, lengths: envelopes.map((e) => e.byteLength) }, [
        bytes.buffer
      ])
    })
  }

  private done(seq: number, results: Opened[]): void {
    const p = this.pending.get(seq)
    if (p === undefined) return
    this.pending.delete(seq)
    for (let i = 0; i < results.length; i++) prime(p.ids[i], opened(p.ids[i], results[i]))
    verifierStats.checked += results.length
    this.idle()
    p.resolve()
  }

  private fail(err: Error): void {
    if (!this.broken) log.warn('signature workers failed: verifying inline', { error: err.message })
    this.broken = true
    for (const p of this.pending.values()) p.resolve()
    this.pending.clear()
    for (const w of this.workers) void w.terminate()
  }

  private idle(): void {
    if (this.pending.size === 0) for (const w of this.workers) w.unref()
  }
}

/** A structured clone gives plain Uint8Arrays: the memo keeps Buffers. */
function opened(id: string, r: Opened): Opened {
  if (!r.ok) return r
  const e = r.envelope
  const envelope: Envelope = {
    ...e,
    author: own(e.author),
    body: own(e.body),
    signature: own(e.signature)
  }
  return { ok: true, envelope, id }
}

function own(a: Uint8Array): Buffer {
  return b4a.from(a.buffer, a.byteOffset, a.byteLength)
}

let pool: Pool | null = null

function shared(): Pool {
  const cores =
    typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length
  pool ??= new Pool(Math.max(1, cores - 1))
  return pool
}

interface Unchecked {
  envelopes: Buffer[]
  ids: string[]
}

/** Add to `into` the envelopes the memo has no answer for, with their ids. */
function unchecked(envelopes: Buffer[], into: Unchecked): void {
  for (const e of envelopes) {
    const id = envelopeId(e)
    if (isMemoised(id)) continue
    into.envelopes.push(e)
    into.ids.push(id)
  }
}

/** Send to a worker, unless so few that the engine checks them inline sooner. */
function send(u: Unchecked): Promise<void> {
  // Bare's workers start without bin/scit-bare.js's map of Node built-ins: the engine checks inline there.
  return u.envelopes.length < INLINE || BARE ? DONE : shared().check(u.envelopes, u.ids)
}

export function checkAhead(envelopes: Buffer[]): Promise<void> {
  const u: Unchecked = { envelopes: [], ids: [] }
  unchecked(envelopes, u)
  return send(u)
}

/** `ready(i)` resolves once block i is checked, while blocks after it (up to AHEAD envelopes) go to workers. */
export function pipeline(blocks: Array<Buffer[] | null>): (i: number) => Promise<void> {
  const ready: Array<Promise<void>> = []
  const before: number[] = [0] // envelopes in the blocks before each one
  let sent = 0
  let chunk = { envelopes: [] as Buffer[], ids: [] as string[], blocks: [] as number[] }
  const flush = (): void => {
    const p = send(chunk)
    for (const b of chunk.blocks) ready[b] = p
    chunk = { envelopes: [], ids: [], blocks: [] }
  }
  return async (i) => {
    while (sent < blocks.length && (sent <= i || before[sent] - before[i + 1] < AHEAD)) {
      const block = blocks[sent] ?? []
      unchecked(block, chunk)
      chunk.blocks.push(sent)
      before[sent + 1] = before[sent] + block.length
      sent++
      if (chunk.envelopes.length >= CHUNK) flush()
    }
    if (ready[i] === undefined) flush() // block i waits in a chunk not sent yet: send it now
    await ready[i]
  }
}
