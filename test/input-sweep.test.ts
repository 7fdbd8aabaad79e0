/**
 * The sweep of what a person or a disk can hand scit: flags, environment,
 * config.json, the data dir's files (identity, bot records, node status and
 * results), templates. Each row runs the real binary with no network (an
 * unreachable bootstrap: a row that reached the network would time out)
 * and must end in its typed error, exit 1, no stack, never `error INTERNAL`,
 * and leave the file it damaged as it was. docs: the closing note's table.
 */
import test from 'brittle'
import fs from 'fs'
import path from 'path'
import { execFile, spawnSync } from 'child_process'
import b4a from 'b4a'
import { SCIT, bareTest, scitArgv } from './helpers/runtime'
import { loadIdentity } from '../lib/identity'
import { encodeKey } from '../lib/keys'

const KEY = encodeKey(b4a.alloc(32, 7))
const NET = ['--market', KEY, '--bootstrap', '127.0.0.1:1']

interface Case {
  input: string
  args: string[]
  want: RegExp
  env?: Record<string, string>
  /** Files to write into the data dir (relative path → content); checked unchanged after. */
  files?: Record<string, string>
  /** Run before, with the data dir (an identity, a fifo, …). */
  setup?: (data: string) => void
}

const TEMPLATE = path.join(__dirname, '..', '..', 'examples', 'ai-mining.yaml')

/** A bot record of the right shape, with `over` replacing fields of its one deployment. */
function records(over: Record<string, unknown> = {}, version = 1): string {
  const d = {
    id: 'x',
    template: 't.yaml',
    set: {},
    manifestHash: '00'.repeat(32),
    manifest: '0102',
    sources: [],
    contract: null,
    phase: 'running',
    bids: [],
    trades: [],
    created: 1,
    error: null,
    ...over
  }
  return JSON.stringify({ version, deployments: [d] })
}

/** A template of one workload of `kind`, with `extra` (a line) in it. */
function workload(kind: string, extra: string): string {
  return `name: x\nversion: 1\nduration: 1h\nbudget: 1\nworkloads:\n  - name: w\n    kind: ${kind}\n    command: ["true"]\n    ${extra}\n`
}

const identity = (data: string): void => void loadIdentity(data)

const CASES: Case[] = [
  // flags
  {
    input: '--data is a file',
    args: ['id', '--data', '@file'],
    want: /^INVALID_CONFIG: .*is not a directory/
  },
  {
    input: '--market 5',
    args: ['bot', 'status', '--market', '5'],
    want: /^INVALID_KEY: market key/
  },
  {
    input: 'market balance abc',
    args: ['market', 'balance', 'abc', ...NET],
    want: /^INVALID_KEY: key must be/
  },
  {
    input: 'deposit -1',
    args: ['market', 'deposit', KEY, '-1', ...NET],
    want: /^INVALID_ARGUMENT: amount "-1"/
  },
  {
    input: 'deposit 2^66',
    args: ['market', 'deposit', KEY, '99999999999999999999', ...NET],
    want: /^INVALID_ARGUMENT: amount "99999999999999999999"/
  },
  {
    input: 'market contract zzz',
    args: ['market', 'contract', 'zzz', ...NET],
    want: /^INVALID_ARGUMENT: CONTRACT: "zzz"/
  },
  { input: 'connect abc', args: ['connect', 'abc', ...NET], want: /^INVALID_KEY: contract key/ },
  {
    input: 'node start --cpu abc',
    args: ['node', 'start', '--cpu', 'abc', ...NET],
    want: /^INVALID_RESOURCE: "abc"/
  },
  {
    input: 'node start --price-cpu 1e400',
    args: ['node', 'start', '--price-cpu', '1e400', ...NET],
    want: /^INVALID_ARGUMENT: --price-cpu must be a whole number/
  },
  {
    input: 'bot scale with 2^66 replicas',
    args: ['bot', 'scale', 'x', '99999999999999999999', ...NET],
    want: /^INVALID_ARGUMENT: "9+" is not a replica count/
  },
  {
    input: 'bot logs of an unknown contract',
    args: ['bot', 'logs', 'nope', ...NET],
    want: /^NOT_FOUND: this bot has no contract "nope"/
  },
  {
    input: 'bot logs --tail -5',
    args: ['bot', 'logs', 'nope', '--tail', '-5', ...NET],
    want: /^INVALID_ARGUMENT: --tail must be a whole number/
  },
  {
    input: 'bot result of an unknown contract',
    args: ['bot', 'result', 'nope', ...NET],
    want: /^NOT_FOUND: this bot has no contract "nope"/
  },
  {
    input: 'bot result --timeout forever',
    args: ['bot', 'result', 'nope', '--timeout', 'forever', ...NET],
    want: /^INVALID_ARGUMENT: "forever" is not a duration/
  },
  {
    input: 'bot state of an unknown contract',
    args: ['bot', 'state', 'nope', ...NET],
    want: /^NOT_FOUND: this bot has no contract "nope"/
  },
  {
    input: 'bot status of an unknown contract',
    args: ['bot', 'status', 'nope', ...NET],
    want: /^NOT_FOUND: this bot has no contract "nope"/
  },

  {
    input: '--set without =',
    args: ['bot', 'template', 'check', TEMPLATE, '--set', '='],
    want: /^INVALID_ARGUMENT: --set =: expected name=value/
  },
  {
    input: '--set with a 100 KB value',
    args: ['bot', 'template', 'check', TEMPLATE, '--set', 'top=' + '9'.repeat(100_000)],
    want: /^TEMPLATE: .*top/
  },
  // environment
  {
    input: 'SCIT_BOOTSTRAP=zzz',
    args: ['bot', 'status', '--market', KEY],
    env: { SCIT_BOOTSTRAP: 'zzz' },
    want: /^INVALID_CONFIG: bootstrap "zzz"/
  },
  {
    input: 'SCIT_MARKET=5',
    args: ['bot', 'status'],
    env: { SCIT_MARKET: '5' },
    want: /^INVALID_KEY: market key/
  },
  // config.json (each field: test/config.test.ts)
  {
    input: 'config.json market: 5',
    args: ['id'],
    files: { 'config.json': '{"market": 5}' },
    want: /^INVALID_CONFIG: .*config.json: market must be/
  },
  {
    input: 'config.json is a folder',
    args: ['id'],
    setup: (d) => fs.mkdirSync(path.join(d, 'config.json')),
    want: /^INVALID_CONFIG: .*config.json: is not a regular file/
  },
  // identity.json
  {
    input: 'identity.json not JSON',
    args: ['id'],
    files: { 'identity.json': '{' },
    want: /^KEYSTORE: .*identity.json is not valid JSON/
  },
  {
    input: 'identity.json keys of the wrong type',
    args: ['id'],
    files: { 'identity.json': '{"publicKey": 5, "secretKey": [1]}' },
    want: /^KEYSTORE: .*identity.json does not hold a valid Ed25519 key pair/
  },
  // bot/state.json
  {
    input: 'bot records not JSON',
    args: ['bot', 'status', ...NET],
    files: { 'bot/state.json': '[' },
    want: /^INVALID_CONFIG: .*state.json: not JSON/
  },
  {
    input: 'bot records of another version',
    args: ['bot', 'status', ...NET],
    files: { 'bot/state.json': records({}, 2) },
    want: /^INVALID_CONFIG: .*state.json: version must be 1/
  },
  {
    input: 'bot records: deployments a number',
    args: ['bot', 'status', ...NET],
    files: { 'bot/state.json': '{"version": 1, "deployments": 7}' },
    want: /^INVALID_CONFIG: .*state.json: deployments must be an array/
  },
  {
    input: 'bot records: a wrong-typed field',
    args: ['bot', 'status', ...NET],
    files: { 'bot/state.json': records({ id: 5, phase: 'dancing' }) },
    want: /^INVALID_CONFIG: .*state.json: deployments\[0\]\.id must be a string; deployments\[0\]\.phase must be one of/
  },
  {
    input: 'bot records: a manifest edited by hand',
    args: ['bot', 'stop', 'x', ...NET],
    files: { 'bot/state.json': records() },
    want: /^INVALID_CONFIG: .*state.json: deployments\[0\]\.manifest does not decode to the manifest its manifestHash names/
  },
  {
    input: 'bot records are a fifo',
    args: ['bot', 'status', ...NET],
    setup: (d) => {
      fs.mkdirSync(path.join(d, 'bot'))
      spawnSync('mkfifo', [path.join(d, 'bot', 'state.json')])
    },
    want: /^INVALID_CONFIG: .*state.json: is not a regular file/
  },
  // node-state.json and results.json
  {
    input: 'node status file null',
    args: ['node', 'status'],
    setup: identity,
    files: { 'node-state.json': 'null' },
    want: /^INVALID_CONFIG: .*node-state.json: the file must be an object/
  },
  {
    input: 'node status file: workloads a number',
    args: ['node', 'status'],
    setup: identity,
    files: {
      'node-state.json':
        '{"key": "k", "pid": null, "capacity": {}, "free": null, "statusCore": "s", "updated": 1, "workloads": 5}'
    },
    want: /^INVALID_CONFIG: .*node-state.json: workloads must be an array/
  },
  {
    input: 'node status file: a lease of "lots" of cpu',
    args: ['node', 'start', ...NET],
    files: {
      'node-state.json':
        '{"key": "k", "pid": null, "capacity": {}, "free": null, "statusCore": "s", "updated": 1, "workloads": [], "leases": [{"trade": "t", "bot": "b", "contract": null, "resources": {"cpu": "lots"}, "price": 1, "start": null, "end": null}]}'
    },
    want: /^INVALID_CONFIG: .*node-state.json: leases\[0\]\.resources\.cpu must be a whole number/
  },
  {
    input: 'results.json of the wrong shape',
    args: ['node', 'start', ...NET],
    files: { 'results.json': '{"job": {"core": 5}}' },
    want: /^INVALID_CONFIG: .*results.json: job: missing field "retain"/
  },
  // templates (hostile YAML: template-hostile.test.ts; escapes: template-folder.test.ts)
  {
    input: 'template workloads: 5',
    args: ['bot', 'template', 'check', '@tpl'],
    files: { 't/t.yaml': 'name: x\nworkloads: 5\n' },
    want: /^TEMPLATE: [^]*workloads must be an array/
  },
  {
    input: 'template files: [../../etc/]',
    args: ['bot', 'template', 'check', '@tpl'],
    files: {
      't/t.yaml': workload('job', 'files: [../../etc/]')
    },
    want: /^TEMPLATE: .*leaves the template's folder/
  },
  {
    input: 'template output: ../../etc/passwd',
    args: ['bot', 'template', 'check', '@tpl'],
    files: { 't/t.yaml': workload('job', 'output: ../../etc/passwd') },
    want: /^TEMPLATE: .*output "..\/..\/etc\/passwd" leaves the workload's work dir/
  },
  {
    input: 'template state: [/etc]',
    args: ['bot', 'template', 'check', '@tpl'],
    files: { 't/t.yaml': workload('service', 'state: [/etc]') },
    want: /^TEMPLATE: .*state "\/etc" leaves the workload's work dir/
  }
]

function scit(
  args: string[],
  env: Record<string, string>,
  runtime: 'node' | 'bare' = 'node'
): Promise<{ code: number; stderr: string }> {
  const [file, ...pre] = runtime === 'node' ? [process.execPath, SCIT] : scitArgv('bare')
  const clean = { ...process.env }
  for (const k of ['SCIT_DATA', 'SCIT_MARKET', 'SCIT_BOOTSTRAP']) delete clean[k]
  return new Promise((resolve) => {
    // bounded: a row that reached the network is killed, and fails below
    execFile(
      file,
      [...pre, ...args],
      { env: { ...clean, ...env }, timeout: 60_000, killSignal: 'SIGKILL', maxBuffer: 1 << 24 },
      (err, _out, stderr) => {
        const e = err as { code?: number; killed?: boolean } | null
        resolve({ code: e === null ? 0 : e.killed ? -1 : Number(e.code ?? 1), stderr })
      }
    )
  })
}

async function run(
  t: { tmp: () => Promise<string> },
  c: Case
): Promise<{ code: number; stderr: string; changed: string[] }> {
  const root = await t.tmp()
  const data = path.join(root, 'data')
  fs.mkdirSync(data, { mode: 0o700 })
  c.setup?.(data)
  for (const [f, text] of Object.entries(c.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(data, f)), { recursive: true, mode: 0o700 })
    fs.writeFileSync(path.join(data, f), text, { mode: 0o600 })
  }
  const file = path.join(root, 'file')
  fs.writeFileSync(file, 'not a folder')
  const at = (s: string): string =>
    s === '@file' ? file : s === '@tpl' ? path.join(data, 't', 't.yaml') : s
  const args = c.args.map(at)
  if (!c.args.includes('--data')) args.push('--data', data)
  const r = await scit(args, c.env ?? {})
  const changed = Object.entries(c.files ?? {})
    .filter(([f, text]) => fs.readFileSync(path.join(data, f), 'utf8') !== text)
    .map(([f]) => f)
  return { ...r, changed }
}

// In tests of a few rows each: under a loaded machine a process start takes seconds, and no one test may near brittle's timeout.
const GROUP = 6
for (let g = 0; g < CASES.length; g += GROUP) {
  const rows = CASES.slice(g, g + GROUP)
  test(`no input in the sweep ends in error INTERNAL (${rows[0].input} … ${rows[rows.length - 1].input}): each gets its typed error, exit 1, no stack, and changes nothing`, async (t) => {
    // three at a time: each row is a process start
    const results = await Promise.all(rows.map((c) => slot(() => run(t, c))))
    rows.forEach((c, i) => {
      const r = results[i]
      const at = r.stderr.indexOf('error ')
      const said = at < 0 ? '' : r.stderr.slice(at + 'error '.length)
      t.ok(
        r.code === 1 && c.want.test(said),
        `${c.input}: ${r.code === -1 ? 'killed after 60 s (reached the network?)' : said.split('\n')[0].slice(0, 240) || r.stderr.slice(0, 240)}`
      )
      t.absent(
        r.stderr.includes('INTERNAL') || /\n\s+at /.test(r.stderr),
        `${c.input}: no INTERNAL, no stack`
      )
      t.alike(r.changed, [], `${c.input}: the files it was given are unchanged`)
    })
  })
}

let free = 3
const waiting: Array<() => void> = []

/** Run `fn` when one of three slots is free. */
async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (free === 0) await new Promise<void>((resolve) => waiting.push(resolve))
  else free--
  try {
    return await fn()
  } finally {
    const next = waiting.shift()
    if (next) next()
    else free++
  }
}

bareTest(
  'on Bare (no O_NONBLOCK) a config.json or a template that is a pipe is refused, not opened',
  async (t) => {
    const data = await t.tmp()
    const fifo = path.join(data, 'config.json')
    t.is(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo')
    const id = await scit(['id', '--data', data], {}, 'bare')
    t.ok(
      id.code === 1 && id.stderr.endsWith(`error INVALID_CONFIG: ${fifo}: is not a regular file\n`),
      id.code === -1 ? 'killed after 60 s: it opened the pipe' : id.stderr
    )
    const tpl = await scit(['bot', 'template', 'check', fifo], {}, 'bare')
    t.is(tpl.stderr, `error TEMPLATE: ${fifo} is not a regular file\n`, 'the template too')
  }
)
