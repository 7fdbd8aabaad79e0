/** Test helpers for declared state: the CRM as a test template, its contacts over HTTP, the bot's verified snapshots. */
import fs from 'fs'
import path from 'path'
import type { Assert } from 'brittle'
import { hashFile } from '../../lib/contract'
import { stateHash } from '../../lib/state-core'
import type { Bot } from '../../bot/bot'
import type { SnapshotEvent } from '../../bot/state-copies'
import { request, whenUp } from '../../examples/demo/http'
import { Tunnel } from '../../connect/tunnel'
import { decodeKey } from '../../lib/keys'
import type { KeyPair } from '../../lib/identity'
import type { World } from './deploy'

export const CRM_SERVER = path.join(__dirname, '..', '..', '..', 'examples', 'crm', 'server.js')

/**
 * The example CRM as a template: `access` (keys and roles besides the default), and with `state` its
 * data.json snapshotted every `interval` (default 300ms); `replicas` spread over nodes.
 */
export async function crmTemplate(
  t: Assert,
  opts: { access?: string[]; state?: boolean; interval?: string; replicas?: number } = {}
): Promise<string> {
  const dir = await t.tmp()
  fs.copyFileSync(CRM_SERVER, path.join(dir, 'server.js'))
  const file = path.join(dir, 'crm.yaml')
  fs.writeFileSync(
    file,
    [
      'name: crm',
      'version: 1',
      'workloads:',
      '  - name: web',
      '    kind: service',
      '    files: [server.js]',
      '    command: [node, server.js]',
      '    ports: [8080]',
      ...(opts.access ? [`    access: [${opts.access.join(', ')}]`] : []),
      ...(opts.state
        ? ['    state: [data.json]', `    stateInterval: ${opts.interval ?? '300ms'}`]
        : []),
      `    replicas: ${opts.replicas ?? 1}`,
      '    resources: { cpu: 500m, memory: 128MiB, ssd: 64MiB }',
      'placement: { countries: [CH], attributes: [ssd], spread: true }',
      'duration: 1h',
      'budget: 100'
    ].join('\n') + '\n'
  )
  return file
}

export interface Contact {
  id: string
  name: string
  email: string
}

export async function addContact(port: number, name: string): Promise<Contact> {
  const r = await whenUp<Contact>('POST', `http://127.0.0.1:${port}/contacts`, {
    name,
    email: `${name.toLowerCase()}@example.com`
  })
  if (r.status !== 201) throw new Error(`the CRM refused a contact: ${r.status}`)
  return r.body
}

export async function contacts(port: number): Promise<Contact[]> {
  await whenUp('GET', `http://127.0.0.1:${port}/health`)
  return (await request<Contact[]>('GET', `http://127.0.0.1:${port}/contacts`)).body
}

/** The total hash a snapshot of these files (path → file on disk) has. */
export async function hashOf(files: Record<string, string>): Promise<Buffer> {
  const list = []
  for (const p of Object.keys(files).sort()) list.push({ path: p, ...(await hashFile(files[p])) })
  return stateHash(list)
}

/** Resolve with the bot's first verified snapshot of `trade` that satisfies `pred` (one it has already counts). */
export function verified(
  b: Bot,
  trade: string,
  pred: (e: SnapshotEvent['snapshot']) => boolean
): Promise<SnapshotEvent['snapshot']> {
  return new Promise((resolve) => {
    const have = b.state.deployments.flatMap((d) => d.trades).find((x) => x.id === trade)?.snapshot
    if (have != null && pred(have)) {
      resolve(have)
      return
    }
    const on = (e: SnapshotEvent): void => {
      if (e.trade !== trade || !pred(e.snapshot)) return
      b.events.off('snapshot', on)
      resolve(e.snapshot)
    }
    b.events.on('snapshot', on)
  })
}

/** A local port that reaches the contract's service through the DHT, as `keyPair` (the bot): it follows a heal. */
export async function tunnelTo(
  t: Assert,
  w: World,
  contract: string | null,
  keyPair: KeyPair
): Promise<number> {
  return (await openTunnel(t, w, contract, keyPair)).address.port
}

/** tunnelTo's tunnel itself, for a test that watches its replicas. */
export async function openTunnel(
  t: Assert,
  w: World,
  contract: string | null,
  keyPair: KeyPair
): Promise<Tunnel> {
  const tunnel = new Tunnel({
    contract: decodeKey(contract ?? ''),
    market: w.key,
    keyPair,
    dht: w.net.createNode(),
    timeout: 30_000,
    refresh: 500
  })
  t.teardown(() => tunnel.close())
  await tunnel.ready()
  return tunnel
}
