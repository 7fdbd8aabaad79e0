/** Keys are z-base-32 everywhere (as Holepunch ids are); hex is accepted on input only. */
import z32 from 'z32'
import b4a from 'b4a'
import sodium from 'sodium-universal'
import { ScitError } from './errors'

export const KEY_BYTES = 32

export function encodeKey(key: Uint8Array): string {
  return z32.encode(key)
}

export function decodeKey(text: string, what = 'key'): Buffer {
  let buf: Buffer | null = null
  if (/^[0-9a-f]{64}$/i.test(text)) buf = b4a.from(text, 'hex')
  else if (/^[ybndrfg8ejkmcpqxot1uwisza345h769]{52}$/.test(text)) {
    try {
      buf = z32.decode(text)
    } catch {
      buf = null
    }
  }
  if (buf === null || buf.byteLength !== KEY_BYTES) {
    throw new ScitError(
      'INVALID_KEY',
      `${what} must be 52 z-base-32 or 64 hex characters, got "${text.slice(0, 70)}"`
    )
  }
  return buf
}

export function isKey(value: unknown): value is Buffer {
  return b4a.isBuffer(value) && value.byteLength === KEY_BYTES
}

/** BLAKE2b-256 of the given parts, with a domain-separating namespace. */
export function hash(namespace: string, ...parts: Uint8Array[]): Buffer {
  const out = b4a.alloc(32)
  sodium.crypto_generichash_batch(out, [b4a.from(namespace), ...parts])
  return out
}

export function shortKey(key: Uint8Array | string): string {
  const s = typeof key === 'string' ? key : encodeKey(key)
  return s.slice(0, 8)
}
