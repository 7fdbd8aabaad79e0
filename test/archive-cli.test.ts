import test from 'brittle'
import type { Assert } from 'brittle'
import fs from 'fs'
import path from 'path'
import b4a from 'b4a'
import { testnet } from './helpers/net'
import { world, node } from './helpers/deploy'
import { funded } from './helpers/cli'
import { runScit, type Run } from './helpers/runtime'
import { HOLDER, EXAMPLE, content, tree } from './helpers/archive'
import { encodeKey } from '../lib/keys'
import type { NodeDaemon } from '../node/daemon'

/** Every file under `dir` that holds `needle`. */
function holding(dir: string, needle: Buffer): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile() && fs.readFileSync(p).includes(needle)) out.push(p)
    }
  }
  walk(dir)
  return out
}

function failed(t: Assert, r: Run, code: string, pattern: RegExp, what: string): void {
  const line = r.stderr.trim()
  t.ok(
    r.code === 1 &&
      line.split('\n').length === 1 &&
      line.startsWith(`error ${code}: `) &&
      pattern.test(line),
    `${what}: ${line}`
  )
}

/** Six holders, a funded bot's flags, and `vault` (4 + 2) deployed by the real binary. */
async function vault(
  t: Assert
): Promise<{ nodes: NodeDaemon[]; scit: (...args: string[]) => Promise<Run> }> {
  const net = await testnet(t)
  const w = await world(t, net)
  const nodes: NodeDaemon[] = []
  for (let i = 0; i < 6; i++) nodes.push(await node(t, w, HOLDER))
  const { data } = await funded(t, w.founder)
  const flags = [
    '--data',
    data,
    '--market',
    encodeKey(w.key),
    '--bootstrap',
    net.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  ]
  const scit = (...args: string[]): Promise<Run> => runScit('node', [...args, ...flags])

  const dep = await scit(
    'bot',
    'deploy',
    EXAMPLE,
    '--set',
    'capacity=8MB',
    '--set',
    'data=4',
    '--set',
    'parity=2',
    '--id',
    'vault',
    '--wait',
    'running',
    '--json'
  )
  t.is(dep.code, 0, dep.stderr)
  t.is(JSON.parse(dep.stdout).trades.length, 6, 'one group of 4 + 2 holders')
  return { nodes, scit }
}

// two tests, each with its own market: as one it took 78-120 s on a loaded machine
test(
  'scit bot archive put, ls, get and health as a user runs them; nodes never see a byte in the clear',
  { timeout: 240_000 },
  async (t) => {
    const { nodes, scit } = await vault(t)

    const marker = `scit-plaintext-${Math.random().toString(36).slice(2)}`
    const files = {
      'empty.bin': b4a.alloc(0),
      'one.bin': b4a.from('x'),
      [`${marker}.txt`]: b4a.from(`${marker} says hello\n`),
      'odd.bin': content(300 * 1024 + 7, marker),
      'sub/big.bin': content(3 * 1024 * 1024 + 123, marker)
    }
    const dir = await tree(t, files)
    fs.mkdirSync(path.join(dir, 'sub', 'empty-dir'))
    const put = await scit('bot', 'archive', 'put', 'vault', dir, '--as', 'photos', '--json')
    t.is(put.code, 0, put.stderr)
    t.is(JSON.parse(put.stdout)[0].files, 5, 'five files in one entry')

    const leaks = nodes.flatMap((n) => [
      ...holding(n.opts.data, b4a.from(marker)),
      ...holding(n.opts.workloads ?? n.opts.data, b4a.from(marker))
    ])
    t.alike(leaks, [], "the marker is nowhere on any node's disk, not even in a file name")
    t.ok(holding(dir, b4a.from(marker)).length > 0, 'while the input holds it')

    const ls = await scit('bot', 'archive', 'ls', 'vault', '--json')
    t.is(ls.code, 0, ls.stderr)
    const rows = JSON.parse(ls.stdout)
    t.is(rows.length, 1)
    t.is(rows[0].name, 'photos')
    t.is(
      rows[0].size,
      Object.values(files).reduce((n, b) => n + b.byteLength, 0)
    )

    const out = path.join(await t.tmp(), 'restored')
    const got = await scit('bot', 'archive', 'get', 'vault', 'photos', '--out', out, '--json')
    t.is(got.code, 0, got.stderr)
    for (const [rel, bytes] of Object.entries(files))
      t.ok(b4a.equals(fs.readFileSync(path.join(out, rel)), bytes), `${rel} back byte for byte`)
    t.ok(fs.statSync(path.join(out, 'sub', 'empty-dir')).isDirectory(), 'the empty directory too')

    const health = await scit('bot', 'archive', 'health', 'vault', '--json')
    t.is(health.code, 0, health.stderr)
    const h = JSON.parse(health.stdout)
    t.is(h.groups[0].whole, 6, 'every holder holds everything')
    t.ok(
      h.groups[0].holders.every((x: { proof: string }) => x.proof === 'ok'),
      'and proves it now'
    )
  }
)

test(
  'scit bot archive: bad input is one error line and changes nothing; --force replaces, rm removes',
  { timeout: 240_000 },
  async (t) => {
    const { scit } = await vault(t)
    const dir = await tree(t, { 'a.bin': content(100 * 1024), 'one.bin': b4a.from('x') })
    const put = await scit('bot', 'archive', 'put', 'vault', dir, '--as', 'photos', '--json')
    t.is(put.code, 0, put.stderr)
    const out = path.join(await t.tmp(), 'restored')
    fs.mkdirSync(out)
    const rows = JSON.parse((await scit('bot', 'archive', 'ls', 'vault', '--json')).stdout)
    t.is(rows.length, 1, 'one entry')

    // bad input: one line, exit 1, the archive as it was
    failed(
      t,
      await scit('bot', 'archive', 'put', 'vault', path.join(dir, 'nope')),
      'NOT_FOUND',
      /no such file or directory/,
      'a missing path'
    )
    failed(
      t,
      await scit('bot', 'archive', 'put', 'vault', dir, '--as', 'photos'),
      'EXISTS',
      /entry "photos" already.*--force/,
      'a name that exists'
    )
    failed(
      t,
      await scit('bot', 'archive', 'put', 'vault', dir, dir),
      'INVALID_ARGUMENT',
      /both be named/,
      'two entries of one name'
    )
    const huge = path.join(await t.tmp(), 'huge.bin')
    fs.writeFileSync(huge, b4a.alloc(9 * 1000 * 1000))
    failed(
      t,
      await scit('bot', 'archive', 'put', 'vault', huge),
      'CAPACITY',
      /the archive is full: this needs .* free/,
      'more than the archive holds'
    )
    failed(
      t,
      await scit('bot', 'archive', 'get', 'vault', 'photos', '--out', out),
      'EXISTS',
      /exists: --force/,
      'a destination that exists'
    )
    failed(
      t,
      await scit('bot', 'archive', 'get', 'vault', 'nothing'),
      'NOT_FOUND',
      /no entry "nothing".*photos/,
      'an unknown name'
    )
    const after = JSON.parse((await scit('bot', 'archive', 'ls', 'vault', '--json')).stdout)
    t.alike(after, rows, 'the catalog is as it was')

    const forced = await scit(
      'bot',
      'archive',
      'put',
      'vault',
      path.join(dir, 'one.bin'),
      '--as',
      'photos',
      '--force',
      '--json'
    )
    t.is(forced.code, 0, forced.stderr)
    t.ok(JSON.parse(forced.stdout)[0].replaced, '--force replaces it')
    const rm = await scit('bot', 'archive', 'rm', 'vault', 'photos', '--json')
    t.is(rm.code, 0, rm.stderr)
    const gone = await scit('bot', 'archive', 'ls', 'vault', '--json')
    t.is(gone.code, 0, gone.stderr)
    t.alike(JSON.parse(gone.stdout), [], 'removed')
    // each holder drops the removed shards once its copy of the contract says so
    let left = -1
    for (let i = 0; i < 5 && left !== 0; i++) {
      const h = await scit('bot', 'archive', 'health', 'vault', '--json')
      left = JSON.parse(h.stdout).groups[0].holders.reduce(
        (n: number, x: { bytes: number | null }) => n + (x.bytes ?? 1),
        0
      )
    }
    t.is(left, 0, 'and its holders freed the space: they hold no byte of it')

    const mirror = path.join(await t.tmp(), 'mirror.yaml')
    fs.writeFileSync(
      mirror,
      'name: copy\nversion: 1\nworkloads:\n  - name: core\n    kind: mirror\n    mirror: { size: 1MB }\nduration: 1h\nbudget: 100\n'
    )
    t.is((await scit('bot', 'deploy', mirror, '--id', 'copy')).code, 0)
    failed(
      t,
      await scit('bot', 'archive', 'ls', 'copy'),
      'NOT_FOUND',
      /contract copy is not an archive \(its workloads: core, a mirror\)/,
      'a contract that is not an archive'
    )
  }
)
