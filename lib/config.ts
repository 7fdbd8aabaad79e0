/** Configuration: flags, then SCIT_DATA / SCIT_MARKET / SCIT_BOOTSTRAP / SCIT_JOIN_TIMEOUT, then `<data>/config.json`. */
import fs from 'fs'
import os from 'os'
import path from 'path'
import { ScitError } from './errors'
import { decodeKey } from './keys'
import { parseDuration } from './duration'
import { openDataDir, readDataFile } from './datadir'

export interface Bootstrap {
  host: string
  port: number
}

export interface Config {
  data: string
  market: Buffer | null
  /** null: the public HyperDHT bootstrap nodes */
  bootstrap: Bootstrap[] | null
  /** ms a one-off command waits for a peer of its market before TIMEOUT; undefined: the default, 30 s. */
  joinTimeout?: number
}

export interface ConfigFlags {
  data?: string
  market?: string
  bootstrap?: string
  joinTimeout?: string
}

/** `<data>/config.json`: every field it may hold is in CONFIG_FIELDS. */
export interface ConfigFile {
  market?: string
  /** "host:port,host:port", or a list of "host:port" */
  bootstrap?: string | string[]
}

/** The schema of config.json: each field, and what to say after its name when a value is refused (null: fine). */
const CONFIG_FIELDS: { [K in keyof Required<ConfigFile>]: (v: unknown) => string | null } = {
  market: (v) => {
    if (typeof v !== 'string') return ` must be a market key (text), not ${typeName(v)}`
    try {
      decodeKey(v)
      return null
    } catch (err) {
      return ` ${(err as Error).message}`
    }
  },
  bootstrap: (v) => {
    if (Array.isArray(v)) {
      const i = v.findIndex((x) => typeof x !== 'string')
      if (i !== -1) return `[${i}] must be "host:port" text, not ${typeName(v[i])}`
    } else if (typeof v !== 'string')
      return ` must be a list of "host:port" (e.g. ["127.0.0.1:49737"]), not ${typeName(v)}`
    try {
      parseBootstrap(v)
      return null
    } catch (err) {
      return (err as Error).message.replace(/^bootstrap/, '')
    }
  }
}

/** A config.json larger than this is not a config file. */
const MAX_CONFIG_BYTES = 64 * 1024

function typeName(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  return typeof v === 'object' ? 'an object' : `the ${typeof v} ${JSON.stringify(v)}`.slice(0, 80)
}

export const DEFAULT_DATA = path.join(os.homedir(), '.scit')

export function parseBootstrap(text: string | string[]): Bootstrap[] {
  const out: Bootstrap[] = []
  const parts = typeof text === 'string' ? text.split(',') : text
  for (const part of parts.map((s) => s.trim()).filter(Boolean)) {
    const m = /^(.+):(\d{1,5})$/.exec(part)
    const port = m ? Number(m[2]) : NaN
    if (!m || port < 1 || port > 65535) {
      throw new ScitError(
        'INVALID_CONFIG',
        `bootstrap "${part.slice(0, 80)}" is not host:port (e.g. 127.0.0.1:49737)`
      )
    }
    out.push({ host: m[1], port })
  }
  if (out.length === 0) throw new ScitError('INVALID_CONFIG', 'bootstrap list is empty')
  return out
}

/** `<data>/config.json`, checked against CONFIG_FIELDS; {} when there is none. */
export function readConfigFile(data: string): ConfigFile {
  const file = path.join(data, 'config.json')
  const bad = (why: string): never => {
    throw new ScitError('INVALID_CONFIG', `${file}: ${why}`)
  }
  const read = readDataFile(file, MAX_CONFIG_BYTES)
  if (read === null) return {}
  if ('why' in read) return bad(read.why)
  let parsed: unknown
  try {
    parsed = JSON.parse(read.text)
  } catch (err) {
    return bad(`not JSON (${(err as Error).message})`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    bad(`must hold a JSON object ({"market": "…"}), not ${typeName(parsed)}`)
  const fields = CONFIG_FIELDS as Record<string, (v: unknown) => string | null>
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (!Object.prototype.hasOwnProperty.call(fields, k))
      bad(`unknown field "${k.slice(0, 40)}" (known: ${Object.keys(fields).join(', ')})`)
    const why = fields[k](v)
    if (why !== null) bad(k + why)
  }
  return parsed as ConfigFile
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
  const joinTimeout = flags.joinTimeout ?? env.SCIT_JOIN_TIMEOUT
  return {
    data,
    market: market ? decodeKey(market, 'market key') : null,
    bootstrap: bootstrap ? parseBootstrap(bootstrap) : null,
    ...(joinTimeout ? { joinTimeout: parseDuration(joinTimeout) } : {})
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
