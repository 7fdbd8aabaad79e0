/**
 * The node's end of a connection to a service (docs/ARCHITECTURE.md "Service access"): read in up to
 * 1 MiB pieces into one reused buffer (`onread`), each copied once, into the buffer the DHT stream
 * encrypts in place. Without `onread` (Bare), 'data' events carry the bytes.
 */
import net from 'net'
import b4a from 'b4a'
import type { Endpoint } from './workload'

/** What a local stream's bytes are sent to: a DHT stream. */
export interface Sink {
  write(chunk: Buffer): boolean
  end(): unknown
  once(event: 'drain', fn: () => void): unknown
  /** A buffer of `n` bytes the stream sends without copying it again (@hyperswarm/secret-stream). */
  alloc?(n: number): Buffer
}

const READ_SIZE = 1 << 20

export class LocalStream {
  readonly socket: net.Socket
  /** Read before there was a sink: the bytes after the token. Every other piece read is only lent (`take`). */
  private readonly early: Buffer[] = []
  private sink: ((chunk: Buffer) => boolean) | null = null
  private token: ((chunk: Buffer) => boolean) | null = null
  /** Whether the other end said the token (true at once when there is none). */
  private readonly said: Promise<boolean>

  private constructor(opts: net.NetConnectOpts, token: Buffer | null) {
    this.said = token === null ? Promise.resolve(true) : this.expect(token)
    const buffer = b4a.allocUnsafe(READ_SIZE)
    const take = (chunk: Buffer): boolean =>
      this.token !== null
        ? this.token(chunk)
        : this.sink !== null
          ? this.sink(chunk)
          : this.hold(chunk)
    this.socket = net.connect({
      ...opts,
      allowHalfOpen: true,
      onread: {
        buffer,
        callback: (n: number, buf: Buffer) => take(buf.subarray(0, n))
      }
    })
    // Without onread (Bare) the bytes come as 'data'; with it this listener only keeps the socket flowing.
    this.socket.on('data', (chunk: Buffer) => {
      if (!take(chunk)) this.socket.pause()
    })
  }

  /**
   * Connect to `ep` (`path`: its socket's path as the node may connect to it); resolves once connected and, when the
   * endpoint has a token, once the other end said it: null when nothing answers (yet), 'refused' when something that
   * is not the bridge did.
   */
  static open(ep: Endpoint, path: string | null): Promise<LocalStream | null | 'refused'> {
    const s = new LocalStream(
      path !== null ? { path } : { port: ep.tcp ?? 0, host: '127.0.0.1' },
      ep.token
    )
    const sock = s.socket
    return new Promise((resolve) => {
      const fail = (): void => {
        sock.destroy()
        resolve(null)
      }
      sock.once('error', fail)
      sock.once('close', fail)
      sock.once('connect', () => {
        s.said.then((said) => {
          sock.off('error', fail)
          sock.off('close', fail)
          if (said) return resolve(s)
          sock.destroy()
          resolve('refused')
        }, fail)
      })
    })
  }

  /** Send what was read and what will be, pausing the reads while `to` is full; its end when the service ends. */
  pipeTo(to: Sink): void {
    const send = (lent: Buffer): boolean => {
      const chunk = to.alloc?.(lent.byteLength) ?? b4a.allocUnsafe(lent.byteLength)
      chunk.set(lent)
      if (to.write(chunk)) return true
      to.once('drain', () => this.socket.resume())
      return false
    }
    let more = true
    for (const chunk of this.early.splice(0)) more = send(chunk)
    this.sink = send
    this.socket.once('end', () => to.end())
    if (more) this.socket.resume()
  }

  destroy(): void {
    this.socket.destroy()
  }

  /** Read exactly `token.length` bytes and compare; what follows is held for the sink, the reads paused till then. */
  private expect(token: Buffer): Promise<boolean> {
    return new Promise((resolve) => {
      let got = b4a.alloc(0)
      this.token = (chunk) => {
        got = b4a.concat([got, chunk])
        if (got.byteLength < token.byteLength) return true
        this.token = null
        const rest = got.subarray(token.byteLength)
        if (rest.byteLength > 0) this.early.push(rest)
        resolve(b4a.equals(got.subarray(0, token.byteLength), token))
        return false
      }
    })
  }

  private hold(lent: Buffer): boolean {
    this.early.push(b4a.from(lent))
    return false
  }
}
