// Thin declarations for the parts of compact-encoding scit uses.
declare module 'compact-encoding' {
  namespace c {
    export interface State {
      start: number
      end: number
      buffer: Buffer | null
      cache?: unknown
    }
    export interface Encoding<T> {
      preencode(state: State, value: T): void
      encode(state: State, value: T): void
      decode(state: State): T
    }
    export function state(start?: number, end?: number, buffer?: Buffer | null): State
    export function encode<T>(enc: Encoding<T>, value: T): Buffer
    export function decode<T>(enc: Encoding<T>, buffer: Uint8Array): T
    export function array<T>(enc: Encoding<T>): Encoding<T[]>
    export function frame<T>(enc: Encoding<T>): Encoding<T>
    export const uint: Encoding<number>
    export const uint8: Encoding<number>
    export const uint16: Encoding<number>
    export const uint32: Encoding<number>
    export const uint64: Encoding<number>
    export const int: Encoding<number>
    export const bool: Encoding<boolean>
    export const string: Encoding<string>
    export const utf8: Encoding<string>
    export const buffer: Encoding<Buffer | null>
    export const fixed32: Encoding<Buffer>
    export const fixed64: Encoding<Buffer>
    export const json: Encoding<unknown>
    export const none: Encoding<null>
    export const raw: Encoding<Buffer> & { buffer: Encoding<Buffer> }
  }
  export = c
}
