// The few WebAssembly globals scit uses (lib/archive/erasure-kernel.ts); Node and Bare both have them, TypeScript declares them only with the DOM lib.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array)
  }
  class Instance {
    constructor(module: Module, imports?: object)
    readonly exports: Record<string, unknown>
  }
  class Memory {
    readonly buffer: ArrayBuffer
  }
}
