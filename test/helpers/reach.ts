/** Test helpers for reaching services (docs/ARCHITECTURE.md "Service access"): service templates, `scit connect` as its own process, raw DHT streams. */
import fs from 'fs'
import path from 'path'
import net from 'net'
import { spawn, ChildProcess } from 'child_process'
import type { Assert } from 'brittle'
import type DHT from 'hyperdht'
import type { World } from './deploy'
import { encodeKey } from '../../lib/keys'
import type { KeyPair } from '../../lib/identity'
import type { NodeDaemon } from '../../node/daemon'
import { SCIT } from './node-process'
import { endChild } from './child'

/** A service on port 7000 that echoes, and appends a line to conns.log in its work dir for every connection it accepts. */
export async function echoTemplate(t: Assert): Promise<string> {
  const dir = await t.tmp()
  fs.writeFileSync(
    path.join(dir, 'echo.js'),
    'const fs = require("fs"); require("net").createServer(s => { fs.appendFileSync("conns.log", "c\\n"); s.on("error", () => {}); s.pipe(s) }).listen(Number(process.env.PORT), "127.0.0.1")\n'
  )
  const file = path.join(dir, 'echo.yaml')
  fs.writeFileSync(
    file,
    [
      'name: echo',
      'version: 1',
      'workloads:',
      '  - name: echo',
      '    kind: service',
      '    files: [echo.js]',
      '    command: [node, echo.js]',
      '    ports: [7000]',
      '    resources: { cpu: 500m, memory: 128MiB }',
      'placement: { countries: [CH] }',
      'duration: 1h',
      'budget: 100'
    ].join('\n') + '\n'
  )
  return file
}

/** Connections the echo service of workload `id` on `n` accepted so far. */
export function accepted(n: NodeDaemon, id: string): number {
  try {
    return fs
      .readFileSync(path.join(n.supervisor.workDir(id), 'conns.log'), 'utf8')
      .split('\n')
      .filter(Boolean).length
  } catch {
    return 0
  }
}

/**
 * Resolve once node `n` has applied the contract's access so that `key` may (or may not) connect to workload `id`;
 * rejects, saying what it waited for, after `ms`.
 */
export function applied(
  n: NodeDaemon,
  id: string,
  key: Buffer,
  want: boolean,
  ms = 60_000
): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (n.allows(id, key) !== want) return
      done()
      resolve()
    }
    const timer = setTimeout(() => {
      done()
      reject(
        new Error(
          `the node did not ${want ? 'let in' : 'refuse'} ${encodeKey(key)} for ${id} within ${ms} ms`
        )
      )
    }, ms)
    const done = (): void => {
      clearTimeout(timer)
      n.off('access', check)
    }
    n.on('access', check)
    check()
  })
}

/**
 * Open a stream to `service` as `keyPair` and echo `ping` through it: true if it came back, false if the stream
 * closed without it; rejects if neither happened within `ms` (a stream left hanging is a failure, not a refusal).
 */
export function echo(dht: DHT, service: Buffer, keyPair: KeyPair, ms = 30_000): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = dht.connect(service, { keyPair })
    const timer = setTimeout(() => {
      s.destroy()
      reject(
        new Error(`echo to ${encodeKey(service)}: neither an answer nor a close within ${ms} ms`)
      )
    }, ms)
    const end = (ok: boolean): void => {
      clearTimeout(timer)
      resolve(ok)
    }
    s.on('error', () => {})
    s.on('open', () => s.write('ping'))
    s.on('data', (d: Buffer) => {
      if (d.toString() === 'ping') {
        s.destroy()
        end(true)
      }
    })
    s.on('close', () => end(false))
  })
}

/** How long `scit connect` may take to print its port. */
const START_LIMIT = 90_000

export interface ConnectProcess {
  child: ChildProcess
  port: number
  stderr: () => string
}

/** `scit connect CONTRACT --json` on the market of `w` as its own process (own DHT node, the identity of `data`); resolves with its listen port. Stopped at teardown. */
export async function connectProcess(
  t: Assert,
  w: World,
  data: string,
  contract: string,
  extra: string[] = []
): Promise<ConnectProcess> {
  const argv = [
    '/usr/bin/setpriv',
    '--pdeathsig',
    'KILL',
    '--',
    process.execPath,
    SCIT,
    'connect',
    contract,
    '--json',
    '--data',
    data,
    '--bootstrap',
    w.net.bootstrap.map((b) => `${b.host}:${b.port}`).join(','),
    '--market',
    encodeKey(w.key),
    ...extra
  ]
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    await endChild(child)
  })
  let timer: NodeJS.Timeout | undefined
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const line = out.split('\n')[0]
      if (out.includes('\n')) resolve((JSON.parse(line) as { port: number }).port)
    })
    exited.then(
      () => reject(new Error(`scit connect exited ${String(child.exitCode)}: ${err}`)),
      reject
    )
    timer = setTimeout(
      () => reject(new Error(`scit connect printed no port within ${START_LIMIT} ms: ${err}`)),
      START_LIMIT
    )
  }).finally(() => clearTimeout(timer))
  return { child, port, stderr: () => err }
}

/** One new TCP connection to `port` (a tunnel): 'ping' echoed back through it, then closed; false if it was not; rejects after `ms` with neither. */
export function echoThrough(port: number, ms = 30_000): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1')
    const timer = setTimeout(() => {
      s.destroy()
      reject(
        new Error(`echo through the tunnel on port ${port}: no answer and no close within ${ms} ms`)
      )
    }, ms)
    const end = (ok: boolean): void => {
      clearTimeout(timer)
      resolve(ok)
    }
    let got = ''
    s.on('error', () => end(false))
    s.on('connect', () => s.write('ping'))
    s.on('data', (d: Buffer) => {
      got += d.toString()
      if (got === 'ping') {
        s.end()
        end(true)
      }
    })
    s.on('close', () => end(false))
  })
}
