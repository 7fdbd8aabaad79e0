/**
 * `scit market watch [VIEW]`: redraws on every market update (coalesced) and at an interval, as DHT presence
 * changes without the ledger knowing.
 */
import type DHT from 'hyperdht'
import { encodeKey, shortKey } from '../../lib/keys'
import { logger } from '../../lib/log'
import type { MarketPeer } from '../peer'
import type { Filter } from './filters'
import { ListView, contextOf, withCheckout } from './views'
import { summaryRows, renderSummary } from './summary'

const log = logger('market/watch')

const CLEAR = '\x1b[H\x1b[2J'

export interface WatchOptions {
  /** null: the summary (stats, nodes, offers, trades, contracts). */
  view: ListView | null
  filter: Filter
  dht: DHT | null
  /** ms. */
  interval: number
  json: boolean
  /** Default: until the signal. */
  count?: number
  signal: AbortSignal
  out?: NodeJS.WritableStream & { isTTY?: boolean }
  /** Updates closer together than this (ms) are drawn once. */
  settle?: number
}

export async function watch(peer: MarketPeer, opts: WatchOptions): Promise<void> {
  const out = opts.out ?? process.stdout
  const name = opts.view?.name ?? 'summary'
  let drawn = 0
  let stopped = false
  let drawing: Promise<void> | null = null
  let again = false
  let pending: NodeJS.Timeout | null = null
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => {
    done = resolve
  })

  const rows = async (): Promise<unknown> => {
    const v = opts.view
    if (v === null) return summaryRows(peer, { dht: opts.dht })
    return withCheckout(peer, (view) =>
      v.rows(contextOf(peer, view, { dht: opts.dht }), opts.filter)
    )
  }

  const drawOnce = async (): Promise<void> => {
    const r = await rows()
    if (opts.signal.aborted) return
    const now = Date.now()
    if (opts.json) {
      out.write(JSON.stringify({ time: now, view: name, rows: r }) + '\n')
    } else {
      const text =
        opts.view === null
          ? renderSummary(r as Record<string, unknown>, now)
          : opts.view.render(r, now)
      const head = `scit market watch ${name}  market ${shortKey(encodeKey(peer.key))}  ${new Date(now).toISOString()}  (every ${opts.interval / 1000}s and on each update; Ctrl-C stops)`
      out.write(out.isTTY === true ? `${CLEAR}${head}\n\n${text}\n` : `${head}\n${text}\n\n`)
    }
    if (++drawn >= (opts.count ?? Infinity)) done()
  }

  const draw = (): void => {
    if (stopped || opts.signal.aborted) return
    if (drawing !== null) {
      again = true
      return
    }
    drawing = drawOnce()
      .catch((err) => log.warn('refresh failed', { err: (err as Error).message }))
      .finally(() => {
        drawing = null
        if (again) {
          again = false
          draw()
        }
      })
  }

  const onupdate = (): void => {
    if (pending === null)
      pending = setTimeout(() => {
        pending = null
        draw()
      }, opts.settle ?? 200)
  }

  peer.client.on('update', onupdate)
  const timer = setInterval(draw, opts.interval)
  opts.signal.addEventListener('abort', () => done(), { once: true })
  draw()
  try {
    await finished
  } finally {
    stopped = true
    clearInterval(timer)
    if (pending !== null) clearTimeout(pending)
    peer.client.off('update', onupdate)
    while (drawing !== null) await drawing
  }
}
