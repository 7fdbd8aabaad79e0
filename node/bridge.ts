/**
 * A service's bridge (docs/ARCHITECTURE.md "Service access"), the first process in its sandbox: it starts
 * the workload and serves each declared port on a UNIX socket in the work dir, saying its token first
 * (the socket path may have been replaced by a link). Node built-ins only: it runs alone, read-only.
 *
 *   node bridge.js DIR PORT… -- COMMAND…      (token in SCIT_BRIDGE_TOKEN)
 */
import net from 'net'
import fs from 'fs'
import path from 'path'
import { spawn } from 'child_process'

function main(argv: string[]): void {
  const sep = argv.indexOf('--')
  if (sep < 2 || sep === argv.length - 1) {
    process.stderr.write('usage: bridge.js DIR PORT… -- COMMAND…\n')
    process.exit(2)
  }
  const dir = argv[0]
  const ports = argv.slice(1, sep).map(Number)
  const command = argv.slice(sep + 1)
  const token = Buffer.from(process.env.SCIT_BRIDGE_TOKEN ?? '', 'hex')
  const env = { ...process.env }
  delete env.SCIT_BRIDGE_TOKEN

  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  for (const port of ports) serve(path.join(dir, `${port}.sock`), port, token)

  const child = spawn(command[0], command.slice(1), { stdio: 'inherit', env })
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const)
    process.on(sig, () => {
      child.kill(sig)
    })
  child.on('error', (err) => {
    process.stderr.write(`scit bridge: cannot start ${command[0]}: ${err.message}\n`)
    process.exit(127)
  })
  // The workload's end is the sandbox's: same code, or the same signal.
  child.on('exit', (code, signal) => {
    if (signal !== null) {
      process.removeAllListeners(signal)
      process.kill(process.pid, signal)
    }
    process.exit(code ?? 1)
  })
}

/** How long a connection waits for a service that is still starting to listen (ms). */
const PATIENCE = 10_000
/**
 * The service's bytes are read up to this much at a time into one reused buffer, written on from it, and the next
 * read waits until that write is done: no allocation, no copy per piece (node/local-stream.ts says why).
 */
const READ_SIZE = 1 << 20

function dial(outer: net.Socket, port: number, until: number): void {
  const buffer = Buffer.allocUnsafe(READ_SIZE)
  const inner = net.connect({
    port,
    host: '127.0.0.1',
    allowHalfOpen: true,
    onread: {
      buffer,
      callback: (n: number) => {
        outer.write(buffer.subarray(0, n), () => inner.resume())
        return false
      }
    }
  })
  inner.once('error', (err: Error & { code?: string }) => {
    if (err.code === 'ECONNREFUSED' && Date.now() < until && !outer.destroyed)
      setTimeout(() => dial(outer, port, until), 100)
    else outer.destroy()
  })
  inner.once('connect', () => {
    // An end is passed on (what was written is still flushed); an error ends both.
    inner.on('error', () => outer.destroy())
    outer.on('error', () => inner.destroy())
    outer.on('close', () => inner.end())
    inner.on('close', () => outer.end())
    inner.on('end', () => outer.end())
    inner.on('data', () => {}) // flowing: with onread the bytes go to send()
    outer.pipe(inner)
  })
}

function serve(file: string, port: number, token: Buffer): void {
  fs.rmSync(file, { force: true })
  // Half-open: a client that sent all it had (FIN) still gets the whole answer.
  const server = net.createServer({ allowHalfOpen: true }, (outer) => {
    outer.write(token)
    outer.on('error', () => {})
    dial(outer, port, Date.now() + PATIENCE)
  })
  server.on('error', (err) => process.stderr.write(`scit bridge: port ${port}: ${err.message}\n`))
  server.listen(file)
}

main(process.argv.slice(2))
