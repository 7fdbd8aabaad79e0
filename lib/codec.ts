/** compact-encoding helpers shared by every schema file: strict decoding and optional fields. */
import c from 'compact-encoding'
import { ScitError, isScitError } from './errors'

/** Decode `buf` with `enc` and refuse trailing bytes, so one value has one encoding. */
export function decodeExact<T>(enc: c.Encoding<T>, buf: Uint8Array): T {
  const state = c.state(0, buf.byteLength, Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength))
  const value = enc.decode(state)
  if (state.start !== state.end)
    throw new ScitError('INVALID_ENVELOPE', `${state.end - state.start} trailing bytes`)
  return value
}

/** Decode a body; a failure becomes a typed INVALID_ENVELOPE error (a format this build does not read stays UNSUPPORTED). */
export function decodeBody<T>(enc: c.Encoding<T>, buf: Uint8Array, what: string): T {
  try {
    return decodeExact(enc, buf)
  } catch (err) {
    if (isScitError(err, 'UNSUPPORTED')) throw err
    throw new ScitError('INVALID_ENVELOPE', `${what} body is malformed: ${(err as Error).message}`)
  }
}

/** A record in a format this build does not read: older or newer, and which. */
export function unsupportedFormat(what: string, got: number, want: number): ScitError {
  return new ScitError(
    'UNSUPPORTED',
    `${what}: written by ${got < want ? 'an older' : 'a newer'} scit (format ${got}); this scit reads format ${want}`
  )
}

/**
 * A record that says its format: a 0 byte, the version, then `enc`. For records whose first, unversioned format
 * (format 1) never starts with a 0 byte (its first field is a non-empty string), so an old record is refused as
 * UNSUPPORTED instead of misread.
 */
export function versioned<T>(version: number, what: string, enc: c.Encoding<T>): c.Encoding<T> {
  return {
    preencode(state, v) {
      state.end++
      c.uint.preencode(state, version)
      enc.preencode(state, v)
    },
    encode(state, v) {
      c.uint8.encode(state, 0)
      c.uint.encode(state, version)
      enc.encode(state, v)
    },
    decode(state) {
      let got = 1
      if (state.start < state.end && state.buffer?.[state.start] === 0) {
        state.start++
        got = c.uint.decode(state)
      }
      if (got !== version) throw unsupportedFormat(what, got, version)
      return enc.decode(state)
    }
  }
}

export function optional<T>(enc: c.Encoding<T>): c.Encoding<T | null> {
  return {
    preencode(state, v) {
      c.bool.preencode(state, v !== null)
      if (v !== null) enc.preencode(state, v)
    },
    encode(state, v) {
      c.bool.encode(state, v !== null)
      if (v !== null) enc.encode(state, v)
    },
    decode(state) {
      return c.bool.decode(state) ? enc.decode(state) : null
    }
  }
}

export function struct<T extends object>(
  fields: { [K in keyof T]-?: [K, c.Encoding<T[K]>] }[keyof T][]
): c.Encoding<T> {
  return {
    preencode(state, v) {
      for (const [k, e] of fields) e.preencode(state, v[k])
    },
    encode(state, v) {
      for (const [k, e] of fields) e.encode(state, v[k])
    },
    decode(state) {
      const out = {} as T
      for (const [k, e] of fields) out[k] = e.decode(state)
      return out
    }
  }
}

/** One of a fixed list of strings, as its index: a schema change that reorders the list is a new version. */
export function enumOf<T extends string>(values: readonly T[]): c.Encoding<T> {
  return {
    preencode(state, v) {
      c.uint.preencode(state, values.indexOf(v))
    },
    encode(state, v) {
      const i = values.indexOf(v)
      if (i === -1) throw new Error(`"${v}" is not one of ${values.join(', ')}`)
      c.uint.encode(state, i)
    },
    decode(state) {
      const i = c.uint.decode(state)
      if (i >= values.length) throw new Error(`enum value ${i} out of range`)
      return values[i]
    }
  }
}

/** A buffer that decodes empty rather than null, for fields that always hold bytes. */
export function nonNullBuffer(): c.Encoding<Buffer> {
  return {
    preencode(state, v) {
      c.buffer.preencode(state, v)
    },
    encode(state, v) {
      c.buffer.encode(state, v)
    },
    decode(state) {
      return c.buffer.decode(state) ?? Buffer.alloc(0)
    }
  }
}
