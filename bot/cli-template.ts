/**
 * `scit bot template publish|list|show`: signed by the author, versioned by name,
 * carrying the files its workloads ship (template-publish.ts).
 */
import type { Command } from 'commander'
import { withCommon, configFrom, output, action, CommonFlags } from '../lib/command'
import { ScitError } from '../lib/errors'
import type { openCommandPeer } from '../market/cli-peer'

/* eslint-disable @typescript-eslint/no-require-imports */
// loaded when a command runs: `--help` needs none of them
const identity = (): typeof import('../lib/identity') => require('../lib/identity')
const peer = (): typeof import('../market/cli-peer') => require('../market/cli-peer')
const templates = (): typeof import('./template') => require('./template')
const publish = (): typeof import('./template-publish') => require('./template-publish')
/* eslint-enable @typescript-eslint/no-require-imports */

async function withPeer<T>(
  flags: CommonFlags,
  sign: boolean,
  fn: (p: Awaited<ReturnType<typeof openCommandPeer>>['peer']) => Promise<T>
): Promise<T> {
  const config = configFrom(flags)
  const cp = await peer().openCommandPeer(
    config,
    sign ? identity().loadIdentity(config.data) : null
  )
  try {
    return await fn(cp.peer)
  } finally {
    await cp.close()
  }
}

export function register(template: Command): void {
  withCommon(template.command('publish').argument('<file>', 'a template file (checked first)'))
    .description(
      'sign a template with this identity and publish it on the market, under its name and version'
    )
    .addHelpText(
      'after',
      '\nExample: scit bot template publish examples/crm.yaml && scit bot deploy crm --set users=100'
    )
    .action(
      action(async (file: string, flags: CommonFlags) => {
        const body = publish().publishBody(templates().loadTemplate(file))
        const files = body.files ?? []
        await withPeer(flags, true, async (peer) => {
          const [o] = await peer.client.submitAndWait([{ type: 'template', body }])
          if (!o.accepted)
            throw new ScitError(
              'REJECTED',
              `the market refused ${body.name} v${body.version}: ${o.reason ?? ''}: ${o.message ?? ''}`
            )
          output(
            flags,
            { name: body.name, version: body.version, id: o.id, files: files.map((f) => f.path) },
            () =>
              `published ${body.name} v${body.version} (${o.id}) with ${files.length} file${files.length === 1 ? '' : 's'}`
          )
        })
      })
    )

  withCommon(template.command('list'))
    .description('templates published on the market, newest version of each name last')
    .action(
      action(async (flags: CommonFlags) => {
        await withPeer(flags, false, async (peer) => {
          const all = await peer.client.templates()
          output(
            flags,
            all.map((x) => ({
              name: x.name,
              version: x.version,
              author: x.author,
              id: x.id,
              time: x.time
            })),
            () =>
              all.length
                ? all
                    .map(
                      (x) =>
                        `${x.name.padEnd(20)} v${String(x.version).padEnd(4)} by ${x.author.slice(0, 8)}  ${new Date(x.time).toISOString()}`
                    )
                    .join('\n')
                : 'no templates on this market'
          )
        })
      })
    )

  withCommon(
    template.command('show').argument('<name>', 'NAME or NAME@VERSION (default: the newest)')
  )
    .description("print a published template's document")
    .action(
      action(async (ref: string, flags: CommonFlags) => {
        const [name, v] = ref.split('@')
        await withPeer(flags, false, async (peer) => {
          const t = await peer.client.template(name, v === undefined ? undefined : Number(v))
          if (t === null)
            throw new ScitError(
              'NOT_FOUND',
              `no template ${ref} on this market (scit bot template list)`
            )
          output(
            flags,
            {
              name: t.name,
              version: t.version,
              author: t.author,
              id: t.id,
              document: t.document.toString(),
              files: (t.files ?? []).map((f) => ({ path: f.path, size: f.data.byteLength }))
            },
            () =>
              [
                t.document.toString().trimEnd(),
                ...(t.files ?? []).map((f) => `# file ${f.path} (${f.data.byteLength} B)`)
              ].join('\n')
          )
        })
      })
    )
}
