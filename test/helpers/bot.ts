/** Test helpers for bot/: templates in temp dirs, example stakeholders, contract cores in a local Corestore. */
import fs from 'fs'
import path from 'path'
import c from 'compact-encoding'
import Corestore from 'corestore'
import type { Assert } from 'brittle'
import type { KeyPair } from '../../lib/identity'
import { seal, TypeName } from '../../lib/envelope'
import { loadTemplate, Template } from '../../bot/template'
import { instantiate, Instance } from '../../bot/manifest'
import { ContractWriter } from '../../bot/notary'
import type { ParamValue } from '../../lib/contract'

/** The repo's examples/, from dist/test/helpers or .dist-*\/test/helpers alike. */
export const EXAMPLES = path.join(__dirname, '..', '..', '..', 'examples')

/** The demo's stakeholders (public seeds): examples can name them, tests sign as them. */
export { exampleStakeholder } from '../../examples/stakeholders'

/** Write `yaml` as `name` in a fresh temp dir, with `files` beside it; returns the template path. */
export async function templateFile(
  t: Assert,
  yaml: string,
  files: Record<string, string> = {},
  name = 'tpl.yaml'
): Promise<string> {
  const dir = await t.tmp()
  for (const [f, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true })
    fs.writeFileSync(path.join(dir, f), content)
  }
  const file = path.join(dir, name)
  fs.writeFileSync(file, yaml)
  return file
}

/** A minimal valid template body; `extra` lines are appended (YAML, top level). */
export function minimalYaml(extra = ''): string {
  return [
    'name: tiny',
    'version: 1',
    'parameters:',
    '  users: { type: int, default: 10, min: 1, max: 1000 }',
    'workloads:',
    '  - name: web',
    '    kind: service',
    '    files: [app.js]',
    '    command: [node, app.js]',
    '    resources: { cpu: "${ceil(users / 50)}", memory: "${64 + users}MiB" }',
    'duration: 1d',
    'budget: 10',
    extra
  ].join('\n')
}

export async function minimalInstance(
  t: Assert,
  set: Record<string, ParamValue> = {}
): Promise<{ template: Template; inst: Instance }> {
  const file = await templateFile(t, minimalYaml(), { 'app.js': 'console.log("hi")\n' })
  const template = loadTemplate(file)
  return { template, inst: await instantiate(template, set) }
}

export async function store(t: Assert, dir?: string): Promise<Corestore> {
  const s = new Corestore(dir ?? (await t.tmp()))
  await s.ready()
  t.teardown(() => s.close())
  return s
}

export async function writer(
  t: Assert,
  s: Corestore,
  identity: KeyPair,
  contractId = 'c1'
): Promise<ContractWriter> {
  const w = new ContractWriter({ store: s, identity, contractId })
  await w.ready()
  t.teardown(() => w.close())
  return w
}

/** Append a sealed envelope straight to the core, bypassing the writer's checks: what a faulty or hostile bot could do. */
export async function forge(
  w: ContractWriter,
  signer: KeyPair,
  type: TypeName,
  seq: number,
  body: Buffer
): Promise<void> {
  await w.core.append(seal(signer, { type, seq, timestamp: Date.now(), body }))
}

export function encode<T>(enc: c.Encoding<T>, v: T): Buffer {
  return c.encode(enc, v)
}

/** Deploy every file of an instance into the writer, then the deploy instruction. */
export async function deployAll(w: ContractWriter, inst: Instance): Promise<void> {
  const refs = []
  for (const s of inst.sources)
    refs.push(await w.appendFile(s.source, { workload: s.workload, path: s.path }))
  await w.appendInstruction({ action: 'deploy', files: refs })
}
