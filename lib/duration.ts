/** Durations as people type them on a command line. */
import { ScitError } from './errors'

/** `10m`, `90s`, `1h`, `2d`, `500ms` or plain milliseconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text)
  if (!m)
    throw new ScitError(
      'INVALID_ARGUMENT',
      `"${text}" is not a duration: use e.g. 500ms, 90s, 10m, 1h, 2d`
    )
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    (m[2] as 'ms' | 's' | 'm' | 'h' | 'd' | undefined) ?? 'ms'
  ]
  const ms = Math.round(Number(m[1]) * unit)
  if (!Number.isSafeInteger(ms) || ms < 1)
    throw new ScitError('INVALID_ARGUMENT', `duration "${text}" is out of range`)
  return ms
}
