// scit on Bare (Pear's runtime): the compiled CLI that Node runs, its Node built-ins mapped to Bare's.
//   npm run bare -- <scit args>    npx bare bin/scit-bare.js <scit args>    pear run . <scit args>
const load = require('./bare-node.js')

const CLI = '../dist/lib/cli.js'
let cli = null
try {
  cli = load(CLI)
} catch (err) {
  if (err.code !== 'MODULE_NOT_FOUND' || err.specifier !== CLI) throw err
  console.error('error NOT_FOUND: dist/lib/cli.js is missing: build it first (npm run build)')
  process.exitCode = 1
}

if (cli !== null) {
  // Under `pear run` the app's own arguments come from Pear, not from the runtime's argv.
  const pear = globalThis.Pear
  const args = pear?.app?.args ?? pear?.config?.args
  cli.main(Array.isArray(args) ? ['bare', 'scit', ...args] : process.argv)
}
