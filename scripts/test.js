#!/usr/bin/env node
// `npm test`: every dist/test/**/*.test.js, each file in its own brittle-node process, `--jobs` files at a time.
//   node scripts/test.js                      all of them, 2 at a time (1 on one core; SCIT_TEST_JOBS or --jobs N: N)
//   node scripts/test.js dist/test/a.test.js  these only
// Most tests wait on the network, timers and child processes rather than compute, so two files side by side take
// little longer each than alone. A file's output is printed whole once it ends (never interleaved), then one line
// `# tests = P/T pass` for the whole run, which .ci/run reads. Exit 1 on any failure.
const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawn } = require('child_process')
const { setTimeout, clearTimeout } = require('timers')
const { Buffer } = require('buffer')

const root = path.join(__dirname, '..')
const brittle = path.join(root, 'node_modules', 'brittle', 'brittle-node.js')
/** A test's own timeout (brittle -t); a file still running after FILE_LIMIT ms is killed and counted failed. */
const TEST_TIMEOUT = 120_000
const FILE_LIMIT = 15 * 60_000

function parseArgs(argv) {
  let jobs = Number(process.env.SCIT_TEST_JOBS ?? Math.min(2, os.availableParallelism()))
  const files = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--jobs' || argv[i] === '-j') jobs = Number(argv[++i])
    else if (argv[i] === '--help' || argv[i] === '-h') {
      console.log(
        'usage: node scripts/test.js [--jobs N] [files...]  (default: dist/test/**/*.test.js, 2 jobs)'
      )
      process.exit(0)
    } else files.push(argv[i])
  }
  if (!Number.isInteger(jobs) || jobs < 1) {
    console.error(`--jobs: a whole number of 1 or more, not ${jobs}`)
    process.exit(2)
  }
  return { jobs, files }
}

function testFiles(dir) {
  const out = []
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...testFiles(p))
    else if (e.name.endsWith('.test.js')) out.push(p)
  }
  return out
}

/** The file's count from brittle's `# tests = p/t pass`; a run that died before it: its top-level results, plus 1 failed. */
function count(output, code) {
  const m = /^# tests = (\d+)\/(\d+) pass/m.exec(output)
  if (m) {
    const pass = Number(m[1])
    const failed = Number(m[2]) - pass
    return { pass, failed: failed === 0 && code !== 0 ? 1 : failed }
  }
  return {
    pass: (output.match(/^ok \d+ /gm) ?? []).length,
    failed: (output.match(/^not ok \d+ /gm) ?? []).length + 1
  }
}

/**
 * What failed in a file's output, to repeat at the end of the run (a CI log is often read from its tail): each
 * `not ok` line with its YAML block, or, when the file died without one, its last lines.
 */
function failures(output) {
  const lines = output.split('\n')
  const out = []
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*not ok /.test(lines[i])) continue
    let j = i
    if (lines[i + 1]?.trim() === '---')
      while (j < i + 25 && j + 1 < lines.length && lines[j].trim() !== '...') j++
    out.push(...lines.slice(i, j + 1))
  }
  return out.length > 0 ? out : lines.filter((l) => l.trim() !== '').slice(-25)
}

function run(file) {
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(process.execPath, [brittle, '-t', String(TEST_TIMEOUT), file], {
      cwd: root,
      detached: true, // its own process group: a file killed at its limit takes what it started with it
      stdio: ['ignore', 'pipe', 'pipe']
    })
    running.add(child)
    const chunks = []
    child.stdout.on('data', (b) => chunks.push(b))
    child.stderr.on('data', (b) => chunks.push(b))
    const limit = setTimeout(() => {
      chunks.push(Buffer.from(`\n# ${file}: still running after ${FILE_LIMIT / 1000} s: killed\n`))
      kill(child)
    }, FILE_LIMIT)
    child.on('close', (code, signal) => {
      clearTimeout(limit)
      running.delete(child)
      const output = Buffer.concat(chunks).toString()
      resolve({ file, output, code: code ?? (signal ? 1 : 0), ms: Date.now() - started })
    })
  })
}

const running = new Set()
function kill(child) {
  try {
    process.kill(-child.pid, 'SIGKILL')
  } catch {}
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const c of running) kill(c)
    process.exit(130)
  })
}

async function main() {
  const { jobs, files } = parseArgs(process.argv.slice(2))
  // the biggest files first: they hold the most tests, so none is left to run alone at the end
  // relative to the root, where each brittle runs: it resolves its file arguments as globs there
  const queue = (files.length > 0 ? files : testFiles(path.join(root, 'dist', 'test')))
    .map((f) => path.relative(root, path.resolve(f)))
    .map((f) => ({ f, size: fs.statSync(path.join(root, f)).size }))
    .sort((a, b) => b.size - a.size)
    .map((x) => x.f)
  const started = Date.now()
  let pass = 0
  let failed = 0
  const bad = []
  const worker = async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      const r = await run(file)
      const c = count(r.output, r.code)
      pass += c.pass
      failed += c.failed
      if (c.failed > 0) bad.push({ file, output: r.output })
      process.stdout.write(`# ${file} (${(r.ms / 1000).toFixed(1)} s)\n${r.output}\n`)
    }
  }
  await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, worker))
  for (const b of bad)
    console.log(
      `# ${b.file} failed:\n${failures(b.output)
        .map((l) => `#   ${l}`)
        .join('\n')}`
    )
  if (bad.length > 0) console.log(`# failed in: ${bad.map((b) => b.file).join(', ')}`)
  console.log(`# ${((Date.now() - started) / 1000).toFixed(0)} s, ${jobs} at a time`)
  console.log(`# tests = ${pass}/${pass + failed} pass`)
  process.exitCode = failed > 0 ? 1 : 0
}

main()
