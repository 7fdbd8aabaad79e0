/** A JSON request to a workload on this machine (the CRM, the banking feature), with a timeout. */
import http from 'http'
import { ScitError } from '../../lib/errors'

export function request<T>(
  method: 'GET' | 'POST',
  url: string,
  body?: unknown,
  timeout = 5000
): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body)
    // agent false: a connection per request, so each one is carried (and spread over replicas) on its own
    const req = http.request(
      url,
      {
        method,
        timeout,
        agent: false,
        headers: data
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }
          : {}
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => {
          text += d
        })
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as T })
          } catch {
            reject(
              new ScitError(
                'DEMO',
                `${method} ${url} answered ${res.statusCode ?? '?'} with no JSON: ${text.slice(0, 200)}`
              )
            )
          }
        })
      }
    )
    req.on('timeout', () =>
      req.destroy(new ScitError('TIMEOUT', `${method} ${url} did not answer within ${timeout} ms`))
    )
    req.on('error', (err) =>
      reject(
        err instanceof ScitError ? err : new ScitError('DEMO', `${method} ${url}: ${err.message}`)
      )
    )
    req.end(data)
  })
}

/** Retry a request while the service comes up (connection refused): a workload reported running may still be binding. */
export async function whenUp<T>(
  method: 'GET' | 'POST',
  url: string,
  body?: unknown,
  tries = 20
): Promise<{ status: number; body: T }> {
  for (let i = 1; ; i++) {
    try {
      return await request<T>(method, url, body)
    } catch (err) {
      if (i >= tries) throw err
      await new Promise((resolve) => setTimeout(resolve, 150))
    }
  }
}
