import test from 'brittle'
import type { Assert } from 'brittle'
import { loadTemplate, TemplateError } from '../bot/template'
import { instantiate } from '../bot/manifest'
import { templateFile, minimalYaml } from './helpers/bot'

async function problems(
  t: Assert,
  yaml: string,
  set: Record<string, string> = {}
): Promise<string> {
  const file = await templateFile(t, yaml, { 'app.js': '1\n' }, 'crm.yaml')
  try {
    await instantiate(loadTemplate(file), set)
  } catch (err) {
    t.ok(err instanceof TemplateError, 'a TemplateError')
    t.is((err as TemplateError).code, 'TEMPLATE')
    return (err as Error).message.split(file).join('crm.yaml')
  }
  t.fail('no error')
  return ''
}

test('the minimal template loads and instantiates', async (t) => {
  const file = await templateFile(t, minimalYaml(), { 'app.js': '1\n' })
  const inst = await instantiate(loadTemplate(file), { users: '120' })
  t.is(inst.manifest.workloads[0].resources.cpu, 3000, 'ceil(120 / 50) cores')
  t.is(inst.manifest.workloads[0].resources.memory, 184 * 1024 * 1024, '${64 + users}MiB')
})

test('a wrong workload kind is reported at its line and column with the allowed values', async (t) => {
  const msg = await problems(t, minimalYaml().replace('kind: service', 'kind: servce'))
  t.is(msg, 'crm.yaml:7:11: workloads[0].kind must be one of service, job, mirror, archive')
})

test('an unknown field is reported at the key', async (t) => {
  const msg = await problems(
    t,
    minimalYaml().replace('    command:', '    colour: red\n    command:')
  )
  t.is(msg, 'crm.yaml:9:5: unknown field "colour" in workloads[0]')
})

test('an unknown top-level field and a wrong type are both reported, in line order', async (t) => {
  const msg = await problems(t, minimalYaml('owner: me').replace('version: 1', 'version: one'))
  t.is(msg, 'crm.yaml:2:10: version must be a whole number\ncrm.yaml:13:1: unknown field "owner"')
})

test('a YAML syntax error has a location', async (t) => {
  const msg = await problems(t, minimalYaml().replace('kind: service', 'kind: [service'))
  t.ok(/^crm\.yaml:\d+:\d+: YAML: /.test(msg), msg)
})

test('a parameter value above its maximum is reported at the parameter', async (t) => {
  const msg = await problems(t, minimalYaml(), { users: '5000' })
  t.is(msg, 'crm.yaml:4:10: parameter users 5000 is above the maximum 1000')
})

test('a parameter value of the wrong type is refused', async (t) => {
  t.is(
    await problems(t, minimalYaml(), { users: 'many' }),
    'crm.yaml:4:10: parameter users "many" is not a whole number'
  )
})

test('an unknown parameter in --set is refused', async (t) => {
  t.ok(
    (await problems(t, minimalYaml(), { user: '3' })).includes(
      'unknown parameter "user" (declared: users)'
    )
  )
})

test('a default outside the enum is reported at the default', async (t) => {
  const msg = await problems(
    t,
    minimalYaml().replace(
      'parameters:',
      'parameters:\n  country: { type: enum, values: [CH, BE], default: DE }'
    )
  )
  t.is(msg, 'crm.yaml:4:53: parameter country: default "DE" is not one of CH, BE')
})

test('an expression syntax error points into the expression', async (t) => {
  const msg = await problems(t, minimalYaml().replace('ceil(users / 50)', 'ceil(users / )'))
  t.ok(msg.startsWith('crm.yaml:10:'), msg)
  t.ok(msg.includes('workloads[0].resources.cpu: syntax error in "ceil(users / )"'), msg)
})

test('an unknown variable is named with the declared parameters', async (t) => {
  const msg = await problems(t, minimalYaml().replace('ceil(users / 50)', 'ceil(userz / 50)'))
  t.ok(msg.includes('unknown variable "userz"') && msg.includes('(parameters: users)'), msg)
})

test('an unknown function is refused: only the whitelist evaluates', async (t) => {
  const msg = await problems(t, minimalYaml().replace('ceil(users / 50)', 'process.exit(1)'))
  t.ok(/crm\.yaml:10:\d+: workloads\[0\]\.resources\.cpu: /.test(msg), msg)
  const msg2 = await problems(t, minimalYaml().replace('ceil(users / 50)', 'sqrt(users)'))
  t.ok(msg2.includes('unknown function "sqrt"'), msg2)
})

test('division by zero is an error at instantiation, located', async (t) => {
  const msg = await problems(
    t,
    minimalYaml().replace('ceil(users / 50)', 'ceil(50 / (users - 10))')
  )
  t.ok(/^crm\.yaml:10:\d+: workloads\[0\]\.resources\.cpu: division by zero/.test(msg), msg)
})

test('a fraction where a whole number is needed names ceil() and floor()', async (t) => {
  const msg = await problems(
    t,
    minimalYaml('').replace('    command:', '    replicas: "${users / 3}"\n    command:')
  )
  t.is(
    msg,
    'crm.yaml:9:15: workloads[0].replicas: evaluates to 10/3, not a whole number: wrap it in ceil() or floor()'
  )
})

test('a missing file is reported at its entry', async (t) => {
  const msg = await problems(
    t,
    minimalYaml().replace('files: [app.js]', 'files: [app.js, nope.js]')
  )
  t.is(
    msg,
    'crm.yaml:8:21: workloads[0].files[1] "nope.js" does not exist (looked in ' +
      msg.split('looked in ')[1]
  )
})

test('a bad stakeholder key and an unreachable threshold are both reported', async (t) => {
  const msg = await problems(
    t,
    minimalYaml('stakeholders:\n  threshold: 3\n  signers:\n    - { key: nope, role: legal }\n')
  )
  t.ok(msg.includes('stakeholders.signers[0].key must be 52 z-base-32'), msg)
  t.ok(msg.includes('stakeholders.threshold 3 can never be reached: the weights add up to 1'), msg)
})

test('kind-specific fields are checked: an archive runs no command', async (t) => {
  const msg = await problems(t, minimalYaml().replace('kind: service', 'kind: archive'))
  t.ok(msg.includes('an archive needs "archive: { size, data, parity }"'), msg)
  t.ok(msg.includes('workloads[0].command is not allowed for an archive'), msg)
  const mirror = await problems(t, minimalYaml().replace('kind: service', 'kind: mirror'))
  t.ok(mirror.includes('a mirror needs "mirror: { size }"'), mirror)
})

test('JSON parses too, being YAML', async (t) => {
  const json = JSON.stringify({
    name: 'j',
    version: 2,
    workloads: [{ name: 'w', kind: 'job', command: ['true'] }],
    duration: '1h',
    budget: 5
  })
  const file = await templateFile(t, json, {}, 'j.json')
  const inst = await instantiate(loadTemplate(file))
  t.is(inst.manifest.workloads[0].restart, 'on-failure')
  t.is(inst.manifest.duration, 3_600_000)
})

test("PORT variables are the node's: a template may not set them", async (t) => {
  const msg = await problems(
    t,
    minimalYaml().replace('    command:', '    env: { PORT: "80" }\n    command:')
  )
  t.ok(msg.includes('workloads[0].env.PORT: PORT and PORT_* are set by the node from "ports"'), msg)
})

test('a service declares who may connect: public, or keys and roles; nothing said is the bot and its stakeholders', async (t) => {
  const key = 'jidhmayguyw4m67up55ji3jyqdeakcb1z1mm3addpi6h77ae73wo'
  const withAccess = (access: string): string =>
    minimalYaml().replace('    command:', `    ports: [8080]\n    access: ${access}\n    command:`)
  const dflt = await instantiate(
    loadTemplate(
      await templateFile(
        t,
        minimalYaml().replace('    command:', '    ports: [8080]\n    command:'),
        { 'app.js': '1\n' }
      )
    )
  )
  t.alike(
    dflt.manifest.workloads[0].access,
    { public: false, keys: [], roles: ['bot', 'stakeholders'] },
    'default: the bot and its stakeholders'
  )
  const pub = await instantiate(
    loadTemplate(await templateFile(t, withAccess('public'), { 'app.js': '1\n' }))
  )
  t.is(pub.manifest.workloads[0].access.public, true)
  const listed = await instantiate(
    loadTemplate(await templateFile(t, withAccess(`[bot, ${key}]`), { 'app.js': '1\n' }))
  )
  t.alike(listed.manifest.workloads[0].access.roles, ['bot'])
  t.is(listed.manifest.workloads[0].access.keys.length, 1, 'the key, decoded')
  const msg = await problems(t, withAccess('[bot, legal]'))
  t.ok(
    msg.includes(
      'workloads[0].access: "legal" is not a key (z-base-32), bot, stakeholders, or a stakeholder role'
    ),
    msg
  )
})

test('a template declaring egress is refused: workloads have no outbound network', async (t) => {
  const msg = await problems(
    t,
    minimalYaml().replace('    command:', '    egress: [0.0.0.0/0]\n    command:')
  )
  t.ok(
    msg.includes(
      'workloads[0].egress is refused: a workload runs in its own network namespace with no route out'
    ),
    msg
  )
})
