/** What a stakeholder reviews: the whole manifest in words a person can check, since the signature covers its hash. */
import { encodeKey, shortKey } from '../lib/keys'
import { formatResources, formatSize } from '../lib/resources'
import { Manifest, manifestHash, kindEntry } from '../lib/contract'

export { signManifest, verifyApproval } from '../lib/contract'

export function formatDuration(ms: number): string {
  const units: Array<[string, number]> = [
    ['w', 604_800_000],
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000]
  ]
  for (const [u, n] of units) if (ms % n === 0) return `${ms / n}${u}`
  return `${ms}ms`
}

export function manifestSummary(m: Manifest): string {
  const hours = Math.ceil(m.duration / 3_600_000)
  const lines: string[] = []
  lines.push(
    `contract ${m.template.name} v${m.template.version}   manifest ${manifestHash(m).toString('hex')}`
  )
  const params = Object.keys(m.params)
    .sort()
    .map((k) => `${k}=${String(m.params[k])}`)
  if (params.length) lines.push(`parameters   ${params.join(' ')}`)
  const where = m.placement.countries.length ? m.placement.countries.join(', ') : 'any country'
  const attrs = m.placement.attributes.length
    ? `, nodes with ${m.placement.attributes.join(', ')}`
    : ''
  lines.push(
    `placement    ${where}${attrs}${m.placement.spread ? ', each replica on its own node' : ''}`
  )
  let total = 0
  lines.push(`lease        ${formatDuration(m.duration)} (${hours} h)`)
  for (const w of m.workloads) {
    const max = w.budget * w.replicas * hours
    total += max
    lines.push('')
    lines.push(`${w.kind} ${w.name}: ${w.replicas} × (${formatResources(w.resources)})`)
    if (w.command.length)
      lines.push(
        `  run        ${w.command.map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ')}`
      )
    for (const k of Object.keys(w.env).sort()) lines.push(`  env        ${k}=${w.env[k]}`)
    if (w.ports.length) lines.push(`  ports      ${w.ports.join(', ')}`)
    if (kindEntry(w.kind).runner === 'process') lines.push(`  restart    ${w.restart}`)
    if (w.mirror)
      lines.push(
        `  keeps      ${formatSize(w.mirror.size)}${w.mirror.source ? ` copied from core ${encodeKey(w.mirror.source)}` : ''}`
      )
    if (w.archive) {
      const a = w.archive
      lines.push(
        `  keeps      ${formatSize(a.size)} coded ${a.data}+${a.parity} (${((a.data + a.parity) / a.data).toFixed(2)}× stored), encrypted`,
        `  groups     ${a.groups} of ${a.data + a.parity} holders on distinct nodes, each keeping ${formatSize(a.shard)}`
      )
    }
    if (w.output) lines.push(`  reports    BLAKE2b-256 of ${w.output}`)
    lines.push(`  price      at most ${w.budget} per replica-hour, ${max} for the lease`)
    for (const f of w.files)
      lines.push(`  file       ${f.path}  ${formatSize(f.size)}  ${f.hash.toString('hex')}`)
  }
  lines.push('')
  lines.push(`total        at most ${total} for the whole lease`)
  const s = m.stakeholders
  if (s.threshold === 0) lines.push('sign-off     none required')
  else {
    const weight = s.signers.reduce((n, x) => n + x.weight, 0)
    lines.push(`sign-off     weight ${s.threshold} of ${weight}:`)
    for (const x of s.signers)
      lines.push(
        `  ${x.role.padEnd(10)} ${encodeKey(x.key)} (${shortKey(x.key)}) weight ${x.weight}`
      )
  }
  return lines.join('\n')
}
