/**
 * A workload's output: a ring of the last `limit` bytes per stream (bounded memory)
 * and a digest of everything printed, so a job's digest covers all of it.
 */
import sodium from 'sodium-universal'
import b4a from 'b4a'

export const DEFAULT_TAIL_BYTES = 64 * 1024

export class StreamDigest {
  private readonly state = b4a.alloc(sodium.crypto_generichash_STATEBYTES)
  private done: Buffer | null = null
  bytes = 0
  constructor() {
    sodium.crypto_generichash_init(this.state, null, 32)
  }
  update(data: Uint8Array): void {
    if (this.done) throw new Error('digest already finished')
    this.bytes += data.byteLength
    sodium.crypto_generichash_update(this.state, data)
  }

  digest(): Buffer {
    if (!this.done) {
      this.done = b4a.alloc(32)
      sodium.crypto_generichash_final(this.state, this.done)
    }
    return this.done
  }
}

export class Tail {
  private chunks: Buffer[] = []
  private size = 0
  /** Bytes dropped from the front since the start. */
  dropped = 0
  constructor(readonly limit = DEFAULT_TAIL_BYTES) {}

  push(data: Buffer): void {
    if (data.byteLength >= this.limit) {
      this.dropped += this.size + data.byteLength - this.limit
      this.chunks = [b4a.from(data.subarray(data.byteLength - this.limit))]
      this.size = this.limit
      return
    }
    this.chunks.push(data)
    this.size += data.byteLength
    while (this.size > this.limit) {
      const head = this.chunks[0]
      const over = this.size - this.limit
      if (head.byteLength <= over) {
        this.chunks.shift()
        this.size -= head.byteLength
        this.dropped += head.byteLength
      } else {
        this.chunks[0] = head.subarray(over)
        this.size -= over
        this.dropped += over
      }
    }
  }

  text(): string {
    return b4a.toString(b4a.concat(this.chunks))
  }
  get length(): number {
    return this.size
  }
}
