// Thin declarations for the libsodium calls scit uses.
declare module 'sodium-universal' {
  namespace sodium {
    export const crypto_sign_PUBLICKEYBYTES: number
    export const crypto_sign_SECRETKEYBYTES: number
    export const crypto_sign_SEEDBYTES: number
    export const crypto_sign_BYTES: number
    export const crypto_generichash_BYTES: number
    export function crypto_sign_keypair(pk: Buffer, sk: Buffer): void
    export function crypto_sign_seed_keypair(pk: Buffer, sk: Buffer, seed: Buffer): void
    export function crypto_sign_detached(sig: Buffer, msg: Uint8Array, sk: Buffer): void
    export function crypto_sign_verify_detached(
      sig: Uint8Array,
      msg: Uint8Array,
      pk: Uint8Array
    ): boolean
    export function crypto_generichash(out: Buffer, input: Uint8Array, key?: Uint8Array): void
    export function crypto_generichash_batch(
      out: Buffer,
      inputs: Uint8Array[],
      key?: Uint8Array
    ): void
    export const crypto_generichash_STATEBYTES: number
    export function crypto_generichash_init(
      state: Buffer,
      key: Uint8Array | null,
      outputLength: number
    ): void
    export function crypto_generichash_update(state: Buffer, input: Uint8Array): void
    export function crypto_generichash_final(state: Buffer, out: Buffer): void
    export function randombytes_buf(buf: Buffer): void
    export const crypto_secretbox_KEYBYTES: number
    export const crypto_secretbox_NONCEBYTES: number
    export const crypto_secretbox_MACBYTES: number
    export function crypto_secretbox_easy(
      out: Uint8Array,
      msg: Uint8Array,
      nonce: Uint8Array,
      key: Uint8Array
    ): void
    export function crypto_secretbox_open_easy(
      out: Uint8Array,
      box: Uint8Array,
      nonce: Uint8Array,
      key: Uint8Array
    ): boolean
    export const crypto_secretstream_xchacha20poly1305_STATEBYTES: number
    export const crypto_secretstream_xchacha20poly1305_HEADERBYTES: number
    export const crypto_secretstream_xchacha20poly1305_ABYTES: number
    export const crypto_secretstream_xchacha20poly1305_KEYBYTES: number
    export const crypto_secretstream_xchacha20poly1305_TAG_MESSAGE: number
    export const crypto_secretstream_xchacha20poly1305_TAG_FINAL: number
    export function crypto_secretstream_xchacha20poly1305_init_push(
      state: Uint8Array,
      header: Uint8Array,
      key: Uint8Array
    ): void
    export function crypto_secretstream_xchacha20poly1305_init_pull(
      state: Uint8Array,
      header: Uint8Array,
      key: Uint8Array
    ): void
    export function crypto_secretstream_xchacha20poly1305_push(
      state: Uint8Array,
      out: Uint8Array,
      msg: Uint8Array,
      ad: Uint8Array | null,
      tag: number
    ): number
    export function crypto_secretstream_xchacha20poly1305_pull(
      state: Uint8Array,
      out: Uint8Array,
      tag: Uint8Array,
      ct: Uint8Array,
      ad: Uint8Array | null
    ): number
    export function sodium_memzero(buf: Buffer): void
  }
  export = sodium
}
