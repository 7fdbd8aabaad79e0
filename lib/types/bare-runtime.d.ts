declare module 'bare-runtime' {
  /** The path of the prebuilt `bare` binary for this platform and arch; throws where there is none. */
  function runtime(referrer?: string): string
  export = runtime
}
