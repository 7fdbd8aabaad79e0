import test from 'brittle'
import type { Assert } from 'brittle'
import fs from 'fs'
import path from 'path'
import { execFileSync, spawnSync } from 'child_process'
import { neighbours, recordHere } from '../node/neighbours'
import { ZERO } from '../lib/resources'
import { proc } from '../lib/proc'

/** Point os.tmpdir() at a dir of the test's own while `fn` runs. */
async function inTmp(t: Assert, fn: (tmp: string) => void): Promise<void> {
  const tmp = await t.tmp()
  const before = process.env.TMPDIR
  process.env.TMPDIR = tmp
  try {
    fn(tmp)
  } finally {
    if (before === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = before
  }
}

const dirOf = (tmp: string): string => path.join(tmp, `scit-nodes-${process.getuid?.() ?? 'user'}`)
// A live pid that is not this process: the records of running nodes name one.
const other = process.ppid

test("a node's record is read back by the next node on the machine", async (t) => {
  await inTmp(t, (tmp) => {
    const data = fs.mkdtempSync(path.join(tmp, 'data-'))
    const rec = { pid: other, key: 'k'.repeat(52), data, resources: { ...ZERO, cpu: 1000 } }
    const { remove } = recordHere(rec)
    t.alike(
      neighbours().map((n) => n.key),
      [rec.key],
      'the record is there'
    )
    remove()
    t.alike(neighbours(), [], 'and gone once removed')
  })
})

test('records in a dir other users can write, a pipe or a malformed record are ignored, and nothing is written there', async (t) => {
  await inTmp(t, (tmp) => {
    const dir = dirOf(tmp)
    fs.mkdirSync(dir, { mode: 0o777 })
    fs.chmodSync(dir, 0o777)
    const planted = {
      pid: other,
      key: 'p'.repeat(52),
      data: '/',
      dev: 1,
      resources: { ...ZERO, cpu: 1 }
    }
    fs.writeFileSync(path.join(dir, `${other}.json`), JSON.stringify(planted))
    t.alike(neighbours(), [], "a world-writable dir's records are not read")
    const data = fs.mkdtempSync(path.join(tmp, 'data-'))
    recordHere({ pid: process.pid, key: 'k'.repeat(52), data, resources: ZERO })
    t.absent(
      fs.existsSync(path.join(dir, `${process.pid}.json`)),
      'nor is a record written into it'
    )

    fs.chmodSync(dir, 0o700)
    fs.rmSync(path.join(dir, `${other}.json`))
    execFileSync('mkfifo', [path.join(dir, '1.json')])
    fs.writeFileSync(path.join(dir, '2.json'), JSON.stringify({ pid: other, key: 5 }))
    t.alike(
      neighbours(),
      [],
      'a pipe is not opened (it would block) and a malformed record is skipped'
    )
  })
})

test("a record left by a node that is gone is not counted: its pid dead or another process's now, or its data dir deleted", async (t) => {
  await inTmp(t, (tmp) => {
    const dir = dirOf(tmp)
    const record = (name: string, fields: object): void => {
      const data = fs.mkdtempSync(path.join(tmp, `${name}-`))
      const rec = { key: name.padEnd(52, '.'), data, dev: 1, resources: { ...ZERO, cpu: 1000 } }
      fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ ...rec, ...fields }))
    }
    const live = (): string[] => neighbours().map((n) => n.key.replace(/\.+$/, ''))
    recordHere({ pid: other, key: 'live'.padEnd(52, '.'), data: tmp, resources: ZERO })
    t.alike(live(), ['live'], 'a running node is counted')

    const dead = spawnSync(process.execPath, ['-e', '']).pid as number
    record('dead', { pid: dead, start: null })
    // the soak's case: a node killed -9 whose pid a later process was given
    record('reused', { pid: other, start: '1' })
    record('deleted', { pid: other, start: proc(other).start })
    fs.rmSync(path.join(tmp, fs.readdirSync(tmp).find((f) => f.startsWith('deleted-')) as string), {
      recursive: true
    })
    t.alike(live(), ['live'], 'none of the three is')
    t.alike(
      fs.readdirSync(dir).sort(),
      [`${other}.json`],
      "and their records are gone: only the running node's is left"
    )
  })
})
