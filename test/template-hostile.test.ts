/**
 * Hostile YAML: an alias bomb, deep nesting, a huge document, a template
 * path that is a device or a pipe, an expression built to overflow the
 * parser's stack. The real binary refuses each with `error TEMPLATE` under a
 * 64 MiB heap (bounded memory: a blow-up would crash it instead), never
 * `error INTERNAL`. How long each takes is printed, not asserted.
 */
import test from 'brittle'
import fs from 'fs'
import path from 'path'
import { execFile, spawnSync } from 'child_process'
import { SCIT } from './helpers/runtime'

function bomb(): string {
  let src = 'name: lol\na: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
  let prev = 'a'
  for (let i = 0; i < 9; i++) {
    src += `b${i}: &b${i} [${Array(9).fill(`*${prev}`).join(',')}]\n`
    prev = `b${i}`
  }
  return src
}

const VALID = [
  'name: x',
  'version: 1',
  'workloads:',
  '  - name: w',
  '    kind: job',
  '    command: ["true"]',
  'duration: 1h',
  'budget: BUDGET',
  ''
].join('\n')

const CASES: Array<[string, string, RegExp]> = [
  ['an alias bomb (a billion laughs)', bomb(), /:1:1: YAML: .*aliases expand too far/],
  [
    'flow collections nested 30000 deep',
    'name: ' + '['.repeat(30000) + ']'.repeat(30000),
    /:1:\d+: YAML: nested more than 64 levels deep/
  ],
  [
    'block sequences nested 30000 deep on one line',
    'name:\n  ' + '- '.repeat(30000) + 'x',
    /:2:\d+: YAML: nested more than 64 levels deep/
  ],
  [
    'block maps indented 300 deep',
    Array.from({ length: 300 }, (_, i) => ' '.repeat(i) + 'k:').join('\n'),
    /YAML: nested more than 64 levels deep/
  ],
  [
    'a 20 MB document',
    'name: x\n# ' + 'x'.repeat(20e6),
    /yaml is 20000010 bytes: a template is at most 61440 bytes/
  ],
  [
    'an expression 20000 parentheses deep',
    VALID.replace('BUDGET', `"\${${'('.repeat(20000)}1${')'.repeat(20000)}}"`),
    /:8:\d+: budget: an expression is at most 1000 characters, this one 40001/
  ],
  [
    'a document of 60 KiB of keys',
    Array.from({ length: 5000 }, (_, i) => `k${i}: ${i}`).join('\n'),
    /unknown field "k0"[^]*… and \d+ more problems\n$/
  ]
]

function scit(args: string[]): Promise<{ code: number; stderr: string; ms: number }> {
  const start = process.hrtime.bigint()
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--max-old-space-size=64', SCIT, ...args],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, _stdout, stderr) => {
        const ms = Number(process.hrtime.bigint() - start) / 1e6
        resolve({ code: err === null ? 0 : Number((err as { code?: number }).code), stderr, ms })
      }
    )
  })
}

test('hostile YAML is refused with error TEMPLATE in bounded memory, never error INTERNAL', async (t) => {
  const dir = await t.tmp()
  const files = CASES.map((_, i) => path.join(dir, `tpl${i}.yaml`))
  CASES.forEach(([, src], i) => fs.writeFileSync(files[i], src))
  // one process for all: every case is refused in the same 64 MiB heap
  const r = await scit(['bot', 'template', 'check', ...files])
  t.comment(
    `${CASES.length} hostile templates refused in ${r.ms.toFixed(0)} ms (process start included)`
  )
  t.is(r.code, 1, 'exit 1')
  const errors = r.stderr.split(/^(?=error )/m)
  t.is(errors.length, CASES.length, 'one error each')
  CASES.forEach(([name, , want], i) => {
    const e = errors.find((x) => x.includes(`tpl${i}.yaml`)) ?? ''
    t.ok(e.startsWith('error TEMPLATE: ') && want.test(e), `${name}: ${e.slice(0, 200)}`)
    t.ok(e.length < 8192, `${name}: a bounded message (${e.length} characters)`)
  })
  t.absent(/\n\s+at /.test(r.stderr), 'no stack')
  t.absent(r.stderr.includes('INTERNAL'))
})

test('a template path that is a device, a pipe or a folder is refused, not read', async (t) => {
  const dir = await t.tmp()
  const fifo = path.join(dir, 'tpl.yaml')
  t.is(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo')
  for (const p of ['/dev/zero', fifo, dir]) {
    const r = await scit(['bot', 'template', 'check', p])
    t.is(r.code, 1)
    t.is(r.stderr, `error TEMPLATE: ${p} is not a regular file\n`)
  }
})
