/**
 * A daemon's start waits on peers, disks and timers. When all it waits on is gone (say a read of a block no peer
 * can bring, before its swarm exists), Node's event loop empties and the process exits 0 without a word: the
 * soak's indexer "exited (0) before it was ready", with nothing in its log. Until disarmed, such an exit says
 * which step of the start stalled and exits 1.
 */
export function stallIsAnError(what: string, step: () => string): () => void {
  const onexit = (): void => {
    process.off('beforeExit', onexit)
    process.stderr.write(
      `error INTERNAL: ${what} stopped before it was ready: nothing was left that could finish ${step()}\n`
    )
    process.exit(1)
  }
  process.on('beforeExit', onexit)
  return () => process.off('beforeExit', onexit)
}

/** The sentinel stage of a daemon whose start is inside its market peer's open: `stepOf` asks the peer then. */
export const JOINING = 'joining'

/** A daemon's start step: its own stage, or while it joins (JOINING) its market peer's step. */
export function stepOf(stage: string, peer: { step: string } | null): string {
  return stage === JOINING ? (peer?.step ?? 'joining its market') : stage
}
