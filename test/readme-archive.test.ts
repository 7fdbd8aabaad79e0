import test from 'brittle'
import path from 'path'
import { shell, shellBlock, freePort } from './helpers/readme'

const EXAMPLES = path.join(__dirname, '..', '..', 'examples') + '/'

// separate processes (a DHT, the market, three nodes, the bot's daemon, a command per line): 60-150 s on a loaded machine
test(
  'README\'s "Archives", verbatim after "A market by hand": separate processes store a directory and get it back',
  { timeout: 300_000 },
  async (t) => {
    const market = shellBlock('### A market by hand')
    const archive = shellBlock('### Archives: `scit bot archive`')
    const port = await freePort()
    // the README runs from the repo's folder; this shell runs in a temp dir
    const sh = await shell(t, { '127.0.0.1:24737': `127.0.0.1:${port}`, 'examples/': EXAMPLES })
    const out: Record<string, string> = {}
    for (const line of [...market, ...archive]) {
      const s = await sh.run(line)
      t.is(s.code, 0, `${s.line}: exit 0 ${s.code === 0 ? '' : s.stderr}`)
      if (s.code !== 0) return
      out[line] = s.stdout + s.stderr
    }
    const said = (prefix: string): string => {
      const line = archive.find((l) => l.startsWith(prefix))
      return line === undefined ? '' : out[line]
    }
    t.ok(said('scit bot deploy').includes('coded 2+1'), 'deploy printed the plan')
    t.ok(said('scit bot archive ls').includes('photos'), 'ls names the entry')
    t.is(said('diff -r photos restored').trim(), 'same', 'the directory came back byte for byte')
    t.ok(/whole|holds|proof/.test(said('scit bot archive health')), 'health shows the group')
  }
)
