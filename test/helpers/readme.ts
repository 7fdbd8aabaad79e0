/**
 * Run a README section's shell block as a user types it: `scit` on the PATH
 * (a shim for the built dist/lib/cli.js), each line in bash in one working
 * dir, `export` lines kept for the next ones, a line ending in `&` a process
 * left running (waited for until it printed its first line, stopped with
 * SIGTERM at teardown; killed with this process, however it ends). Only the
 * README's fixed port is swapped for a free one.
 */
import fs from 'fs'
import path from 'path'
import dgram from 'dgram'
import { spawn, execFile, ChildProcess } from 'child_process'
import type { Assert } from 'brittle'
import { SCIT } from './runtime'
import { endChild, tieToRunner } from './child'

export const README = path.join(__dirname, '..', '..', '..', 'README.md')

/** How long one README line that does not end in `&` may run. */
const LINE_LIMIT = 180_000

export interface Step {
  line: string
  code: number
  stdout: string
  stderr: string
}

/** The lines of the first ```sh block under `heading`, comments and blank lines left out. */
export function shellBlock(heading: string, file = README): string[] {
  const text = fs.readFileSync(file, 'utf8')
  const at = text.indexOf(`\n${heading}\n`)
  if (at < 0) throw new Error(`no "${heading}" in ${file}`)
  const block = /```sh\n([\s\S]*?)```/.exec(text.slice(at))
  if (block === null) throw new Error(`no sh block under "${heading}"`)
  return block[1]
    .split('\n')
    .map((l) => l.replace(/\s+#\s.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
}

/** A UDP port free on 127.0.0.1 now. */
export async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()))
  const { port } = s.address()
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

export interface Shell {
  env: NodeJS.ProcessEnv
  cwd: string
  /** Run one README line; resolves with how it ended (a `&` line: once it printed its first line). */
  run(line: string): Promise<Step>
}

export async function shell(t: Assert, swap: Record<string, string> = {}): Promise<Shell> {
  const cwd = await t.tmp()
  // a node started here keeps its work dirs under it: the sandbox user must pass through (t.tmp() is 0700)
  fs.chmodSync(cwd, 0o711)
  const bin = await t.tmp()
  fs.writeFileSync(
    path.join(bin, 'scit'),
    `#!/bin/sh\nexec "${process.execPath}" "${SCIT}" "$@"\n`,
    { mode: 0o755 }
  )
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` }
  for (const k of Object.keys(env)) if (k.startsWith('SCIT_') && k !== 'SCIT_DEBUG') delete env[k]
  const background: ChildProcess[] = []
  t.teardown(async () => {
    for (const p of background.reverse()) await endChild(p)
  })
  const edit = (line: string): string =>
    Object.entries(swap).reduce((l, [from, to]) => l.split(from).join(to), line)

  const run = async (raw: string): Promise<Step> => {
    const line = edit(raw)
    const exp = /^export\s+([A-Z_][A-Z0-9_]*)=/.exec(line)
    if (exp !== null) {
      // bash evaluates it ($(…) too); the variable's value is kept for the next lines
      const s = await sh(`${line} && printf %s "$${exp[1]}"`)
      if (s.code === 0) env[exp[1]] = s.stdout
      return { ...s, line }
    }
    if (line.endsWith('&')) {
      // pdeathsig: killed even if this process is (SIGKILL included); tied: on a process.exit
      const p = spawn(
        '/usr/bin/setpriv',
        ['--pdeathsig', 'KILL', '--', 'bash', '-c', `exec ${line.slice(0, -1).trim()}`],
        { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }
      )
      tieToRunner(p)
      background.push(p)
      let stdout = ''
      let stderr = ''
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      return await new Promise<Step>((resolve) => {
        p.stdout.on('data', (d: Buffer) => {
          stdout += d.toString()
          if (stdout.includes('\n')) resolve({ line, code: 0, stdout, stderr })
        })
        p.once('exit', (code) => resolve({ line, code: code ?? 1, stdout, stderr }))
      })
    }
    return await sh(line)
  }
  const sh = (line: string): Promise<Step> =>
    new Promise<Step>((resolve) => {
      // bounded: a line that never returns fails its step (code -1) instead of hanging the run
      const p = execFile(
        'bash',
        ['-c', line],
        { cwd, env, timeout: LINE_LIMIT, killSignal: 'SIGKILL' },
        (err, stdout, stderr) => {
          const e = err as { code?: number; killed?: boolean } | null
          const code = e === null ? 0 : e.killed === true ? -1 : Number(e.code ?? 1)
          const why = code === -1 ? `\n(killed: still running after ${LINE_LIMIT} ms)` : ''
          resolve({ line, code, stdout, stderr: stderr + why })
        }
      )
      tieToRunner(p)
    })
  return { env, cwd, run }
}
