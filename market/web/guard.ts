/**
 * The web page is for this machine only: it listens on loopback, and answers only requests whose Host (and
 * Origin, when sent) name a loopback address and its own port, so a page elsewhere cannot read it through DNS
 * rebinding or a cross-site request. Every answer carries a strict Content-Security-Policy: the page runs its
 * own scripts and styles, served from the package, and reaches nothing but this server.
 */
import { ScitError } from '../../lib/errors'

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1'])

export interface Listen {
  host: string
  port: number
}

/** `127.0.0.1:8080`, `localhost:0`, `[::1]:8080`; anything but loopback is refused. */
export function parseListen(text: string): Listen {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text.trim())
  if (m === null)
    throw new ScitError(
      'INVALID_ARGUMENT',
      `--listen: "${text}" is not host:port (e.g. 127.0.0.1:8420, or 127.0.0.1:0 for any free port)`
    )
  const host = m[1].toLowerCase()
  const port = Number(m[2])
  if (!LOOPBACK.has(host))
    throw new ScitError(
      'INVALID_ARGUMENT',
      `--listen: ${m[1]} is not a loopback address: the page serves this machine only (127.0.0.1, localhost or [::1])`
    )
  if (port > 65535)
    throw new ScitError('INVALID_ARGUMENT', `--listen: port ${port} is out of range`)
  return { host: host === '[::1]' ? '::1' : host, port }
}

/** `host:port` as a Host header would say it: a loopback name and exactly this server's port. */
export function isLoopbackHost(value: string | undefined, port: number): boolean {
  if (value === undefined) return false
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value.trim().toLowerCase())
  return m !== null && LOOPBACK.has(m[1]) && Number(m[2]) === port
}

/** Absent (a same-origin GET) or `http://<loopback host>:<port>`. */
export function isLoopbackOrigin(value: string | undefined, port: number): boolean {
  if (value === undefined) return true
  const m = /^http:\/\/(.+)$/.exec(value.trim().toLowerCase())
  return m !== null && isLoopbackHost(m[1], port)
}

export const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin'
}
