/**
 * What reaches `scit bot run`'s control socket that is not a request (wrong
 * types, a line without end) ends that connection, and the server goes on
 * serving the next one. The bot is not needed for this: the server only
 * reads its data dir.
 */
import test from 'brittle'
import net from 'net'
import { Command } from 'commander'
import { ControlServer } from '../bot/control'
import type { Bot } from '../bot/bot'
import type { Io } from '../lib/io'

/** Send `text` on a fresh connection; what came back once the server ended it, or 'still open' after 10 s. */
function exchange(file: string, text: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(file)
    let got = ''
    const done = (): void => {
      clearTimeout(timer)
      sock.destroy()
      resolve(got)
    }
    const timer = setTimeout(() => {
      got = 'still open'
      done()
    }, 10_000)
    sock.setEncoding('utf8')
    sock.on('data', (d: string) => (got += d))
    sock.on('close', done)
    sock.on('error', done)
    sock.write(text)
  })
}

test('the control socket ends a connection that is not a request, and serves the next', async (t) => {
  const data = await t.tmp()
  const program = (io: Io): Command =>
    new Command('scit')
      .exitOverride()
      .addCommand(new Command('bot').addCommand(new Command('hello').action(() => io.out('hi\n'))))
  const server = new ControlServer({ opts: { data } } as unknown as Bot, { program })
  await server.listen()
  t.teardown(async () => {
    server.stop()
    await server.drained()
  })
  const request = (argv: unknown, env: unknown = {}): string =>
    JSON.stringify({ argv, cwd: '/', env }) + '\n'
  for (const [what, text] of [
    ['argv not a list', request('bot hello')],
    ['argv of numbers', request([5, 6])],
    ['env values not text', request(['bot', 'hello'], { SCIT_DATA: 5 })],
    ['null', 'null\n'],
    ['not JSON', '{"argv": \n'],
    ['a 17 MiB line', 'x'.repeat(17 * 1024 * 1024)]
  ])
    t.is(await exchange(server.file, text), '', `${what}: closed, nothing run`)
  t.is(
    await exchange(server.file, request(['bot', 'hello'])),
    '{"out":"hi\\n"}\n{"exit":0}\n',
    'a request after them is served'
  )
})
