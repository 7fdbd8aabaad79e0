/**
 * Bytes on the wire of a swarm's connections (UDX's own counters, both
 * ways), from now on: the connections open now, those opened later, and
 * those that close meanwhile (their last count kept).
 */
import type Hyperswarm from 'hyperswarm'
import type { SwarmConnection } from 'hyperswarm'

interface Counted {
  bytesTransmitted: number
  bytesReceived: number
}

export function wireBytes(swarm: Hyperswarm): () => number {
  const start = new Map<SwarmConnection, number>()
  let closed = 0
  const now = (c: SwarmConnection): number => {
    const raw = c.rawStream as Counted | undefined
    return raw === undefined ? 0 : raw.bytesTransmitted + raw.bytesReceived
  }
  const track = (c: SwarmConnection, from: number): void => {
    start.set(c, from)
    c.once('close', () => {
      closed += now(c) - from
      start.delete(c)
    })
  }
  for (const c of swarm.connections) track(c, now(c))
  const onconnection = (c: SwarmConnection): void => track(c, 0)
  swarm.on('connection', onconnection)
  return () => {
    swarm.off('connection', onconnection)
    let n = closed
    for (const [c, from] of start) n += now(c) - from
    return n
  }
}
