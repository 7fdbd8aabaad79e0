// Thin declarations for rache 1: the random-eviction cache Corestore hands Hyperbee as its node cache.
declare module 'rache' {
  class Rache {
    constructor(opts?: { maxSize?: number })
    readonly globalSize: number
  }
  export default Rache
}
