declare module 'protomux' {
  import { Encoding } from 'compact-encoding'
  export interface Message<T> {
    send(value: T): boolean
    type: number
  }
  export interface MessageOptions<T> {
    encoding?: Encoding<T>
    onmessage?: (value: T, channel: Channel) => void
  }
  export interface Channel {
    userData: unknown
    opened: boolean
    closed: boolean
    protocol: string
    id: Buffer | null
    open(handshake?: unknown): void
    close(): void
    addMessage<T>(opts: MessageOptions<T>): Message<T>
    fullyOpened(): Promise<boolean>
  }
  export interface ChannelOptions {
    protocol: string
    id?: Buffer | null
    unique?: boolean
    handshake?: Encoding<any>
    messages?: MessageOptions<any>[]
    onopen?: (handshake: any, channel: Channel) => void | Promise<void>
    onclose?: (isRemote: boolean, channel: Channel) => void
    ondestroy?: (channel: Channel) => void
  }
  class Protomux {
    static from(stream: unknown, opts?: object): Protomux
    stream: unknown
    createChannel(opts: ChannelOptions): Channel | null
    opened(opts: { protocol: string; id?: Buffer | null }): boolean
    pair(opts: { protocol: string; id?: Buffer | null }, notify: (id: Buffer | null) => void): void
    unpair(opts: { protocol: string; id?: Buffer | null }): void
    destroy(err?: Error): void
  }
  export default Protomux
}
