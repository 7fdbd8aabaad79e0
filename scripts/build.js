#!/usr/bin/env node
// Build dist/ only when it is stale, so `npm start` and `npm test` start at once after `npm install`.
//   node scripts/build.js            tsc (incremental) when a source changed since the last build, else nothing
//   node scripts/build.js --clean    from scratch
// Stale: no stamp, a source newer than it, or another set of sources (one added or removed). After tsc,
// outputs whose source is gone are removed: a renamed test must not run on from its old .js.
const fs = require('fs')
const path = require('path')
const { spawnSync } = require('child_process')

const root = path.join(__dirname, '..')
const dist = path.join(root, 'dist')
const stamp = path.join(dist, '.built')
const { include } = JSON.parse(fs.readFileSync(path.join(root, 'tsconfig.json'), 'utf8'))
const dirs = include.map((glob) => glob.split('/')[0])

function sources() {
  const out = ['package.json', 'tsconfig.json']
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = path.join(rel, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith('.ts')) out.push(p)
    }
  }
  for (const d of dirs) if (fs.existsSync(path.join(root, d))) walk(d)
  return out.sort()
}

function stale(list) {
  let built
  try {
    built = fs.statSync(stamp).mtimeMs
    if (fs.readFileSync(stamp, 'utf8') !== list.join('\n')) return 'sources added or removed'
  } catch {
    return 'no build yet'
  }
  const newer = list.find((f) => fs.statSync(path.join(root, f)).mtimeMs > built)
  return newer === undefined ? null : `${newer} changed`
}

/** dist/x/y.js(.map) with no x/y.ts any more. */
function prune(list) {
  const have = new Set(list.map((f) => f.replace(/\.ts$/, '')))
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(dist, rel), { withFileTypes: true })) {
      const p = path.join(rel, e.name)
      if (e.isDirectory()) walk(p)
      else {
        const m = /^(.*)\.js(\.map)?$/.exec(p)
        if (m && !have.has(m[1])) fs.rmSync(path.join(dist, p))
      }
    }
  }
  for (const d of dirs) if (fs.existsSync(path.join(dist, d))) walk(d)
}

const clean = process.argv.includes('--clean')
const list = sources()
const why = clean ? 'clean build' : stale(list)
if (why === null) process.exit(0)
if (clean) fs.rmSync(dist, { recursive: true, force: true })
process.stderr.write(`building dist/ (${why})\n`)
// the stamp gets the time the build started: a source saved during tsc is newer, so the next run builds again
const started = new Date()
const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', root], {
  stdio: 'inherit'
})
if (tsc.status !== 0) process.exit(tsc.status ?? 1)
prune(list)
fs.chmodSync(path.join(dist, 'lib', 'cli.js'), 0o755)
fs.writeFileSync(stamp, list.join('\n'))
fs.utimesSync(stamp, started, started)
