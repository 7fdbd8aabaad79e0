declare module 'safety-catch' {
  /** Swallows an expected failure; rethrows (and crashes on) a programmer error: TypeError, ReferenceError, assertions… */
  function safetyCatch(err: unknown): void
  export = safetyCatch
}
