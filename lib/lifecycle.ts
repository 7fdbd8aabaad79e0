/** What ReadyResource leaves to its subclasses: closing after a failed open, and parts that exist only once open. */
import { ScitError } from './errors'
import { logger } from './log'

const log = logger('lifecycle')

/**
 * Run `open`; when it fails, `close` what it opened so far and rethrow. ReadyResource runs
 * no _close after a failed open, and a swarm left up would keep the process alive.
 */
export async function openOrClose(
  open: () => Promise<void>,
  close: () => Promise<void>
): Promise<void> {
  try {
    await open()
  } catch (err) {
    await close().catch((e) =>
      log.warn('closing after a failed open failed', { err: (e as Error).message })
    )
    throw err
  }
}

/** A part its owner makes as it opens: null before that and after a failed open. */
export function opened<T>(part: T | null, owner: string): T {
  if (part === null) throw new ScitError('CLOSED', `${owner} is not open`)
  return part
}
