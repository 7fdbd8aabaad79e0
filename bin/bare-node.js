// Node's built-ins on Bare: bare-node-runtime's globals, and load(file), which requires a compiled
// module of scit with bare-node-runtime's import map (inherited by every module it loads).
//   bare bin/bare-node.js FILE [args]    runs FILE (a benchmark, say) on Bare
require('bare-node-runtime/global')
// Bare checks dependencies' engines.node against this; the global's 20.0.0 is below what some (jsep) declare.
process.versions.node = '20.20.0'

function load(file) {
  return require(file, { with: { imports: 'bare-node-runtime/imports' } })
}

module.exports = load

if (require.main === module) {
  process.argv.splice(1, 1) // FILE sees the argv it would see on Node: [runtime, FILE, args]
  const file = process.argv[1]
  load(file.startsWith('/') ? file : `${process.cwd()}/${file}`)
}
