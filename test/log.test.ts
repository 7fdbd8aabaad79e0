import test from 'brittle'
import { logger, setLevel, getLevel, setSink } from '../lib/log'

function capture(t: { teardown: (fn: () => void) => void }): string[] {
  const lines: string[] = []
  const level = getLevel()
  setSink((line) => {
    lines.push(line)
  })
  t.teardown(() => {
    setSink((line) => {
      process.stderr.write(line + '\n')
    })
    setLevel(level)
  })
  return lines
}

test('the logger is quiet by default: warnings and errors only', async (t) => {
  const lines = capture(t)
  setLevel('warn')
  const log = logger('part')
  log.debug('noise')
  log.info('chatter')
  log.warn('careful', { peer: 'abc' })
  log.error('broken', { code: 7 })
  t.alike(lines, ['warn  part: careful peer=abc', 'error part: broken code=7'])
})

test('raising the level shows info, then debug; child loggers name their part', async (t) => {
  const lines = capture(t)
  const log = logger('node').child('sandbox')
  setLevel('info')
  log.info('started', { ports: [80] })
  log.debug('hidden')
  setLevel('debug')
  log.debug('shown')
  t.alike(lines, ['info  node/sandbox: started ports=[80]', 'debug node/sandbox: shown'])
})
