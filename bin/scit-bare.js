// scit on Bare (Pear's runtime): the compiled CLI that Node runs, its Node built-ins mapped to Bare's.
//   npm run bare -- <scit args>    npx bare bin/scit-bare.js <scit args>    pear run . <scit args>
require('bare-node-runtime/global')
// Bare checks dependencies' engines.node against this; the global's 20.0.0 is below what some (jsep) declare.
process.versions.node = '20.20.0'

const { main } = require('../dist/lib/cli.js', { with: { imports: 'bare-node-runtime/imports' } })

// Under `pear run` the app's own arguments come from Pear, not from the runtime's argv.
const pear = globalThis.Pear
const args = pear?.app?.args ?? pear?.config?.args
main(Array.isArray(args) ? ['bare', 'scit', ...args] : process.argv)
