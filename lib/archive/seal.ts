/**
 * What keeps an archive's bytes the owner's (docs/ARCHITECTURE.md "Archives"): a key derived
 * from the bot's identity and the contract, so `identity.json` alone opens the
 * archive on any machine; each file encrypted and authenticated before it is
 * coded (libsodium secretstream: a truncated, reordered or altered message
 * fails), bound to its entry and place so no file passes for another; and the
 * entry's metadata (names, sizes, hashes) sealed in a secretbox.
 */
import b4a from 'b4a'
import c from 'compact-encoding'
import sodium from 'sodium-universal'
import { ScitError } from '../errors'
import { decodeExact } from '../codec'
import { entryMeta, EntryMeta } from './messages'

/** Plaintext bytes per secretstream message. */
export const MESSAGE = 64 * 1024
const HEADER = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
const ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
const STATE = sodium.crypto_secretstream_xchacha20poly1305_STATEBYTES
const FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
const PLAIN = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE

export interface ArchiveKeys {
  content: Buffer
  catalog: Buffer
}

function keyed(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const out = b4a.alloc(32)
  sodium.crypto_generichash_batch(out, parts, key)
  return out
}

/** From the identity's secret key (its Ed25519 seed) and the contract core key: nothing stored, nothing to lose. */
export function archiveKeys(secretKey: Buffer, contract: Buffer): ArchiveKeys {
  const master = keyed(secretKey.subarray(0, 32), b4a.from('scit/archive/v1'), contract)
  return {
    content: keyed(master, b4a.from('content')),
    catalog: keyed(master, b4a.from('catalog'))
  }
}

/** Messages a file of `size` bytes is encrypted in: an empty file is one empty final message. */
export function messages(size: number): number {
  return Math.max(1, Math.ceil(size / MESSAGE))
}

/** Bytes of a file of `size` bytes once encrypted: the header, the bytes, a tag per message. */
export function cipherSize(size: number): number {
  return HEADER + size + ABYTES * messages(size)
}

/** What each message of a file is bound to: its entry and its place in it. */
function place(entry: Buffer, file: number): Buffer {
  return b4a.concat([entry, c.encode(c.uint32, file)])
}

/** Encrypts one file message by message; the caller feeds exactly `messages(size)` chunks of MESSAGE bytes (the last shorter). */
export class FileSealer {
  readonly header = b4a.alloc(HEADER)
  private readonly state = b4a.alloc(STATE)
  private readonly ad: Buffer
  private left: number

  constructor(key: Buffer, entry: Buffer, file: number, size: number) {
    sodium.crypto_secretstream_xchacha20poly1305_init_push(this.state, this.header, key)
    this.ad = place(entry, file)
    this.left = messages(size)
  }

  push(plain: Uint8Array): Buffer {
    if (this.left === 0) throw new ScitError('INVALID_ARGUMENT', 'the file was already sealed')
    const out = b4a.allocUnsafe(plain.byteLength + ABYTES)
    this.left--
    sodium.crypto_secretstream_xchacha20poly1305_push(
      this.state,
      out,
      plain,
      this.ad,
      this.left === 0 ? FINAL : PLAIN
    )
    return out
  }
}

/** Decrypts one file's messages in order; any change to them, or a missing end, is a VERIFICATION error. */
export class FileOpener {
  private readonly state = b4a.alloc(STATE)
  private readonly tag = b4a.alloc(1)
  private readonly ad: Buffer
  private ended = false

  constructor(
    key: Buffer,
    header: Uint8Array,
    entry: Buffer,
    file: number,
    private readonly what: string
  ) {
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(this.state, header, key)
    this.ad = place(entry, file)
  }

  pull(cipher: Uint8Array): Buffer {
    const out = b4a.allocUnsafe(Math.max(0, cipher.byteLength - ABYTES))
    try {
      if (this.ended || cipher.byteLength < ABYTES) throw new Error('out of place')
      sodium.crypto_secretstream_xchacha20poly1305_pull(this.state, out, this.tag, cipher, this.ad)
    } catch {
      throw new ScitError(
        'VERIFICATION',
        `${this.what} does not decrypt: its bytes were altered, or come from another file or key`
      )
    }
    this.ended = this.tag[0] === FINAL
    return out
  }

  /** The last message carried the final tag: the file is whole. */
  get done(): boolean {
    return this.ended
  }
}

export const HEADER_BYTES = HEADER
export const MESSAGE_CIPHER = MESSAGE + ABYTES

export function sealMeta(key: Buffer, meta: EntryMeta): Buffer {
  const plain = c.encode(entryMeta, meta)
  const nonce = b4a.alloc(sodium.crypto_secretbox_NONCEBYTES)
  sodium.randombytes_buf(nonce)
  const box = b4a.alloc(plain.byteLength + sodium.crypto_secretbox_MACBYTES)
  sodium.crypto_secretbox_easy(box, plain, nonce, key)
  return b4a.concat([nonce, box])
}

export function openMeta(key: Buffer, sealed: Uint8Array): EntryMeta {
  const n = sodium.crypto_secretbox_NONCEBYTES
  const mac = sodium.crypto_secretbox_MACBYTES
  const plain = b4a.alloc(Math.max(0, sealed.byteLength - n - mac))
  if (
    sealed.byteLength < n + mac ||
    !sodium.crypto_secretbox_open_easy(plain, sealed.subarray(n), sealed.subarray(0, n), key)
  )
    throw new ScitError(
      'VERIFICATION',
      "an entry's metadata does not open with this identity's key: the archive was made by another identity"
    )
  return decodeExact(entryMeta, plain)
}
