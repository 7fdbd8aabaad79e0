// scit on Bare (Pear's runtime): the compiled CLI that Node runs, its Node built-ins mapped to Bare's.
//   npm run bare -- <scit args>    npx bare bin/scit-bare.js <scit args>    pear run . <scit args>
const load = require('./bare-node.js')

const { main } = load('../dist/lib/cli.js')

// Under `pear run` the app's own arguments come from Pear, not from the runtime's argv.
const pear = globalThis.Pear
const args = pear?.app?.args ?? pear?.config?.args
main(Array.isArray(args) ? ['bare', 'scit', ...args] : process.argv)
