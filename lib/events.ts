/**
 * The event lines of a daemon (`scit bot run`, `scit node start`): one line per
 * event, `2026-12-06T10:00:00Z heal         crm-x1: node k3x9… unreachable …`,
 * or with `--json` one object per line.
 */

export interface EventLine {
  time: string
  event: string
  /** The contract (or deployment id) it is about, when there is one. */
  contract: string | null
  detail: string
}

export type EventFn = (event: string, detail: string, about?: string) => void

/** Prints each event through `write`: a JSON object per line, or the line for people. */
export function eventPrinter(write: (text: string) => void, json: boolean): EventFn {
  return (event, detail, about) => {
    const e: EventLine = { time: now(), event, contract: about ?? null, detail }
    write(
      json
        ? JSON.stringify(e) + '\n'
        : `${e.time} ${e.event.padEnd(12)} ${e.contract !== null && !e.detail.startsWith(`${e.contract}:`) ? `${e.contract}: ` : ''}${e.detail}\n`
    )
  }
}

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
}
