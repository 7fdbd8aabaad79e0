import test from 'brittle'
import { shell, shellBlock, freePort } from './helpers/readme'

test('README\'s "A market by hand", verbatim: a private market on scit dht, with no public DHT', async (t) => {
  const lines = shellBlock('### A market by hand')
  t.ok(lines[0].startsWith('scit dht --listen 127.0.0.1:24737'), 'it starts with its own DHT')
  const port = await freePort()
  const sh = await shell(t, { '127.0.0.1:24737': `127.0.0.1:${port}` })
  const steps = []
  for (const line of lines) {
    const s = await sh.run(line)
    t.is(s.code, 0, `${s.line}: exit 0 ${s.stderr}`)
    if (s.code !== 0) return
    steps.push(s)
  }
  const [dht, , create, , info, deposit, balance] = steps
  t.ok(dht.stdout.includes(`--bootstrap 127.0.0.1:${port}`), 'scit dht prints the --bootstrap')
  const market = create.stdout
  t.ok(/^[a-z0-9]{52}$/.test(market), 'market create prints the key on stdout, into SCIT_MARKET')
  t.ok(
    create.stderr.includes('scit market serve --data ./m') &&
      create.stderr.includes(`--market ${market}`),
    'and the next commands on stderr'
  )
  t.ok(info.stdout.includes(market), 'market info reads it through the private DHT')
  t.ok(/is final; its balance is 1000000/.test(deposit.stdout), deposit.stdout)
  t.is(balance.stdout.trim(), '1000000', 'the bot has its 1000000')
})
