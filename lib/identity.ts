/** One Ed25519 identity per data dir (`identity.json`, 0600): it signs every envelope its owner writes. */
import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import sodium from 'sodium-universal'
import { ScitError } from './errors'
import { encodeKey } from './keys'
import { openDataDir, readDataFile } from './datadir'

export interface KeyPair {
  publicKey: Buffer
  secretKey: Buffer
}

export const IDENTITY_FILE = 'identity.json'

export function generateKeyPair(seed?: Buffer): KeyPair {
  const publicKey = b4a.alloc(sodium.crypto_sign_PUBLICKEYBYTES)
  const secretKey = b4a.alloc(sodium.crypto_sign_SECRETKEYBYTES)
  if (seed) {
    if (seed.byteLength !== sodium.crypto_sign_SEEDBYTES)
      throw new ScitError('INVALID_ARGUMENT', 'seed must be 32 bytes')
    sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed)
  } else {
    sodium.crypto_sign_keypair(publicKey, secretKey)
  }
  return { publicKey, secretKey }
}

export function sign(message: Uint8Array, secretKey: Buffer): Buffer {
  const sig = b4a.alloc(sodium.crypto_sign_BYTES)
  sodium.crypto_sign_detached(sig, message, secretKey)
  return sig
}

export function verifySignature(
  message: Uint8Array,
  signature: Uint8Array,
  publicKey: Uint8Array
): boolean {
  if (
    signature.byteLength !== sodium.crypto_sign_BYTES ||
    publicKey.byteLength !== sodium.crypto_sign_PUBLICKEYBYTES
  )
    return false
  return sodium.crypto_sign_verify_detached(signature, message, publicKey)
}

interface StoredIdentity {
  version: 1
  publicKey: string
  secretKey: string
}

/** Load or create the identity of `dataDir`. Written atomically 0600; a file others can read is refused, not used. */
export function loadIdentity(dataDir: string, opts: { create?: boolean } = {}): KeyPair {
  const file = path.join(dataDir, IDENTITY_FILE)
  if (opts.create !== false || fs.existsSync(dataDir)) openDataDir(dataDir)
  if (!fs.existsSync(file)) {
    if (opts.create === false)
      throw new ScitError(
        'KEYSTORE',
        `no identity in ${dataDir} (run "scit id --data ${dataDir}" to create one)`
      )
    return createIdentity(dataDir)
  }
  const mode = fs.statSync(file).mode & 0o777
  if ((mode & 0o077) !== 0) {
    throw new ScitError(
      'KEYSTORE',
      `${file} has mode ${mode.toString(8)}: a secret key must be readable by its owner only (chmod 600 ${file})`
    )
  }
  const read = readDataFile(file, 64 * 1024)
  if (read === null || 'why' in read)
    throw new ScitError('KEYSTORE', `${file} ${read?.why ?? 'is gone'}`)
  let stored: Partial<StoredIdentity> | null
  try {
    stored = JSON.parse(read.text) as Partial<StoredIdentity> | null
  } catch (err) {
    throw new ScitError('KEYSTORE', `${file} is not valid JSON: ${(err as Error).message}`)
  }
  const publicKey =
    typeof stored?.publicKey === 'string' ? b4a.from(stored.publicKey, 'hex') : b4a.alloc(0)
  const secretKey =
    typeof stored?.secretKey === 'string' ? b4a.from(stored.secretKey, 'hex') : b4a.alloc(0)
  if (
    publicKey.byteLength !== 32 ||
    secretKey.byteLength !== 64 ||
    !b4a.equals(secretKey.subarray(32), publicKey)
  ) {
    throw new ScitError('KEYSTORE', `${file} does not hold a valid Ed25519 key pair`)
  }
  return { publicKey, secretKey }
}

/** Make `kp` the identity of `dataDir` (the demo's public-seed stakeholders); never replaces another key. */
export function importIdentity(dataDir: string, kp: KeyPair): KeyPair {
  if (!fs.existsSync(path.join(dataDir, IDENTITY_FILE))) return createIdentity(dataDir, kp)
  const have = loadIdentity(dataDir)
  if (!b4a.equals(have.publicKey, kp.publicKey))
    throw new ScitError(
      'KEYSTORE',
      `${dataDir} already holds identity ${encodeKey(have.publicKey)}: use an empty --data`
    )
  return have
}

function createIdentity(dataDir: string, kp = generateKeyPair()): KeyPair {
  openDataDir(dataDir)
  const stored: StoredIdentity = {
    version: 1,
    publicKey: b4a.toString(kp.publicKey, 'hex'),
    secretKey: b4a.toString(kp.secretKey, 'hex')
  }
  const file = path.join(dataDir, IDENTITY_FILE)
  const tmp = file + '.tmp'
  fs.writeFileSync(tmp, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 })
  fs.chmodSync(tmp, 0o600) // the umask may have narrowed it: make it exact
  fs.renameSync(tmp, file)
  return kp
}

export function describeIdentity(kp: KeyPair): string {
  return encodeKey(kp.publicKey)
}
