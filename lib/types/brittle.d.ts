// Thin declarations for brittle's assertion API.
declare module 'brittle' {
  namespace brittle {
    interface TestOptions {
      timeout?: number
      skip?: boolean
      todo?: boolean
    }
    interface Assert {
      is(actual: unknown, expected: unknown, message?: string): void
      not(actual: unknown, expected: unknown, message?: string): void
      ok(value: unknown, message?: string): void
      absent(value: unknown, message?: string): void
      alike(actual: unknown, expected: unknown, message?: string): void
      unlike(actual: unknown, expected: unknown, message?: string): void
      pass(message?: string): void
      fail(message?: string): void
      comment(...message: unknown[]): void
      exception: ((
        fn: (() => unknown) | Promise<unknown>,
        expected?: RegExp | Function,
        message?: string
      ) => Promise<void>) & {
        all(
          fn: (() => unknown) | Promise<unknown>,
          expected?: RegExp | Function,
          message?: string
        ): Promise<void>
      }
      execution(fn: (() => unknown) | Promise<unknown>, message?: string): Promise<void>
      plan(n: number): void
      end(): void
      teardown(fn: () => unknown, opts?: { order?: number }): void
      timeout(ms: number): void
      test(name: string, fn: (t: Assert) => unknown): Promise<void>
      test(name: string, opts: TestOptions, fn: (t: Assert) => unknown): Promise<void>
      tmp(): Promise<string>
    }
    type TestFn = (t: Assert) => unknown
  }
  function brittle(name: string, fn: brittle.TestFn): void
  function brittle(name: string, opts: brittle.TestOptions, fn: brittle.TestFn): void
  namespace brittle {
    function solo(name: string, fn: TestFn): void
    function skip(name: string, fn: TestFn): void
    function configure(opts: { timeout?: number; bail?: boolean; serial?: boolean }): void
  }
  export = brittle
}
