/** Configuration: flags, then SCIT_DATA / SCIT_MARKET / SCIT_BOOTSTRAP, then `<data>/config.json`. */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { ScitError } from './errors'
import { decodeKey } from './keys'
import { openDataDir } from './datadir'

export interface Bootstrap {
  host: string
  port: number
}

export interface Config {
  data: string
  market: Buffer | null
  /** null: the public HyperDHT bootstrap nodes */
  bootstrap: Bootstrap[] | null
}

export interface ConfigFlags {
  data?: string
  market?: string
  bootstrap?: string
}

export interface ConfigFile {
  market?: string
  bootstrap?: string
}

export const DEFAULT_DATA = path.join(os.homedir(), '.scit')

export function parseBootstrap(text: string): Bootstrap[] {
  const out: Bootstrap[] = []
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(.+):(\d{1,5})$/.exec(part)
    const port = m ? Number(m[2]) : NaN
    if (!m || port < 1 || port > 65535) {
      throw new ScitError(
        'INVALID_CONFIG',
        `bootstrap "${part}" is not host:port (e.g. 127.0.0.1:49737)`
      )
    }
    out.push({ host: m[1], port })
  }
  if (out.length === 0) throw new ScitError('INVALID_CONFIG', 'bootstrap list is empty')
  return out
}

export function readConfigFile(data: string): ConfigFile {
  const file = path.join(data, 'config.json')
  if (!fs.existsSync(file)) return {}
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error('not an object')
    return parsed as ConfigFile
  } catch (err) {
    throw new ScitError('INVALID_CONFIG', `${file}: ${(err as Error).message}`)
  }
}

export function writeConfigFile(data: string, patch: ConfigFile): void {
  const next = { ...readConfigFile(data), ...patch }
  openDataDir(data)
  const file = path.join(data, 'config.json')
  fs.writeFileSync(file + '.tmp', JSON.stringify(next, null, 2) + '\n', { mode: 0o600 })
  fs.renameSync(file + '.tmp', file)
}

/** `cwd`: where a relative --data is (the caller's, for a command `scit bot run` serves). */
export function resolveConfig(
  flags: ConfigFlags,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd()
): Config {
  const data = path.resolve(cwd, flags.data ?? env.SCIT_DATA ?? DEFAULT_DATA)
  const file = readConfigFile(data)
  const market = flags.market ?? env.SCIT_MARKET ?? file.market
  const bootstrap = flags.bootstrap ?? env.SCIT_BOOTSTRAP ?? file.bootstrap
  return {
    data,
    market: market ? decodeKey(market, 'market key') : null,
    bootstrap: bootstrap ? parseBootstrap(bootstrap) : null
  }
}

export function requireMarket(config: Config): Buffer {
  if (!config.market)
    throw new ScitError(
      'INVALID_CONFIG',
      'no market key: pass --market KEY, set SCIT_MARKET, or put "market" in <data>/config.json'
    )
  return config.market
}
