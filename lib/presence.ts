/**
 * Finding and verifying a node's DHT presence record (docs/ARCHITECTURE.md "Presence"): the DHT
 * signature over (seq, value), then the node-signed `presence` envelope, decoded strictly.
 */
import b4a from 'b4a'
import type DHT from 'hyperdht'
import { open, TYPES } from './envelope'
import { decodeBody } from './codec'
import { ScitError } from './errors'
import { encodeKey } from './keys'
import { presenceRecord, PresenceRecord, PRESENCE_VERSION } from './node-messages'

export interface FoundPresence {
  node: Buffer
  seq: number
  timestamp: number
  record: PresenceRecord
}

/** null when the DHT has no record; VERIFICATION when it is not a valid record of that node. */
export async function lookupPresence(
  dht: DHT,
  node: Buffer,
  opts: { minSeq?: number } = {}
): Promise<FoundPresence | null> {
  const got = await dht.mutableGet(node, { latest: true, seq: opts.minSeq })
  if (got === null) return null
  const r = open(got.value, { accept: new Set([TYPES.presence]) })
  if (!r.ok) throw new ScitError('VERIFICATION', `presence of ${encodeKey(node)}: ${r.message}`)
  if (!b4a.equals(r.envelope.author, node))
    throw new ScitError('VERIFICATION', `presence of ${encodeKey(node)} is signed by another key`)
  if (r.envelope.seq !== got.seq)
    throw new ScitError(
      'VERIFICATION',
      `presence of ${encodeKey(node)}: envelope seq ${r.envelope.seq} is not the record seq ${got.seq}`
    )
  const record = decodeBody(presenceRecord, r.envelope.body, 'presence')
  if (record.version !== PRESENCE_VERSION)
    throw new ScitError('VERIFICATION', `presence version ${record.version} is not supported`)
  return { node, seq: got.seq, timestamp: r.envelope.timestamp, record }
}
