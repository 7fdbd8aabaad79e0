declare module 'ready-resource' {
  import { EventEmitter } from 'events'
  class ReadyResource extends EventEmitter {
    opening: Promise<void> | null
    opened: boolean
    closing: Promise<void> | null
    closed: boolean
    ready(): Promise<void>
    close(): Promise<void>
    protected _open(): Promise<void>
    protected _close(): Promise<void>
  }
  export = ReadyResource
}
