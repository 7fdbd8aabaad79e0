/**
 * Preloaded into the soak's nodes (node --require): with SCIT_SOAK_SKEW=ms, this process's wall clock is that far
 * ahead (or behind, negative), as a machine whose clock drifted. Timers are not touched: they measure intervals.
 */
const skew = Number(process.env.SCIT_SOAK_SKEW ?? 0)

if (Number.isFinite(skew) && skew !== 0) {
  const Real = Date
  const now = (): number => Real.now() + skew
  class Skewed extends Real {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(now())
      else super(...(args as [string]))
    }

    static override now(): number {
      return now()
    }
  }
  globalThis.Date = Skewed as DateConstructor
}
