/**
 * Typed errors with stable codes, in the manner of hypercore-errors: callers and
 * tests match `err.code`, people read `err.message`.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_KEY'
  | 'INVALID_SIZE'
  | 'INVALID_RESOURCE'
  | 'INVALID_PRICE'
  | 'INVALID_ENVELOPE'
  | 'INVALID_CONFIG'
  | 'KEYSTORE'
  | 'OVERFLOW'
  | 'NOT_FOUND'
  | 'REJECTED'
  | 'TIMEOUT'
  | 'CAPACITY'
  | 'SANDBOX'
  | 'VERIFICATION'
  | 'TEMPLATE'
  | 'CLOSED'
  | 'READ_ONLY'
  | 'BUSY'
  | 'CLOCK_AHEAD' // an indexer refused an op stamped too far ahead of its clock (the sender's clock is off)
  | 'CORRUPT' // a store under the data dir is damaged on disk (a failing disk, a torn write): scit will not run on it
  | 'ACCESS' // the contract does not let this key connect to the service
  | 'BAD_STATE' // the command makes no sense in the contract's phase (scale a stopped contract)
  | 'REPLICA_FAILED' // a node signed that a replica failed for good
  | 'STOPPED' // the contract was stopped by its bot: nothing of it runs any more
  | 'DEMO' // scit demo saw something other than what it claims
  | 'UNSUPPORTED' // the runtime (Bare) has no equivalent for what this needs, or a record is in a format this build does not read
  | 'EXISTS' // the name is taken (an archive entry, an output path): --force replaces it
  | 'UNAVAILABLE' // the data exists, but too few of its holders answer to read it now
  | 'INTERNAL' // a bug: an error scit did not expect reached the top

export class ScitError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, opts?: { cause?: unknown }) {
    super(message, opts)
    this.name = 'ScitError'
    this.code = code
  }
}

export function fail(code: ErrorCode, message: string): never {
  throw new ScitError(code, message)
}

export function isScitError(err: unknown, code?: ErrorCode): err is ScitError {
  return err instanceof ScitError && (code === undefined || err.code === code)
}

/** What a damaged store's CORRUPT error tells its owner to do (`store`: its path). */
export function moveAside(store: string): string {
  const indexer = store.endsWith('/market')
    ? ". An indexer's writer key is in its market store: moved aside, it starts with a new writer, which the other indexers must vote in again (scit market add-indexer, with the writer that scit market serve prints)"
    : ''
  return `Move ${store} aside and start again: a node or bot needs only identity.json (and config.json), the rest replicates anew from its peers${indexer}`
}

/**
 * The damage RocksDB found in a store, or null: a read's error (EIO, a checksum that does not match), or the cause
 * of a write it refused ("Batch was not applied" once a compaction found a damaged table: every write fails then).
 */
export function storeDamage(err: unknown, depth = 0): Error | null {
  if (!(err instanceof Error) || depth > 4) return null
  const e = err as Error & { code?: unknown; errors?: unknown }
  if (e.code === 'EIO' && /corrupt|checksum mismatch/i.test(e.message)) return e
  const inner = [e.cause, ...(Array.isArray(e.errors) ? (e.errors as unknown[]) : [])]
  for (const x of inner) {
    const found = storeDamage(x, depth + 1)
    if (found !== null) return found
  }
  return null
}
