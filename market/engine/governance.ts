/** Genesis, indexer votes and contract templates: who runs the market and what it publishes. */
import b4a from 'b4a'
import { encodeKey } from '../../lib/keys'
import * as K from './keys'
import { genesisRecord, templateRecord, Genesis } from '../messages'
import type { GovernanceBody, TemplateBody } from '../types'
import type { Tx } from './tx'
import { Ctx, reject } from './context'

/** The genesis op: the founder becomes the first indexer, the faucets and settlement window are fixed for good. */
export function handleGenesis(
  tx: Tx,
  author: string,
  now: number,
  body: { faucets: Buffer[]; settlementWindow: number; offerTtl?: number }
): Genesis {
  const genesis: Genesis = {
    author,
    faucets: body.faucets.map((f) => encodeKey(f)),
    settlementWindow: body.settlementWindow,
    offerTtl: body.offerTtl ?? 0,
    time: now
  }
  if (new Set(genesis.faucets).size !== genesis.faucets.length)
    reject('invalid', 'faucets lists a key twice')
  tx.write(genesisRecord, K.META_GENESIS, genesis)
  // The founder writes through the bootstrap core, which Autobase already indexes: no writer key to record.
  tx.put(K.indexer(author), K.MARK)
  return genesis
}

async function indexers(tx: Tx): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>()
  for await (const { key, value } of tx.range(K.prefixRange('gov/indexer/')))
    out.set(K.tail(key), value)
  return out
}

/** A change happens once a strict majority of current indexers voted for exactly it; the ledger carries out `effects`. */
export async function handleVote(ctx: Ctx, body: GovernanceBody): Promise<void> {
  if (body.action === 'genesis') return reject('bad-state', 'this market already has its genesis')
  const current = await indexers(ctx.tx)
  if (!current.has(ctx.author))
    reject('not-indexer', `${ctx.author} is not an indexer of this market`)
  const identity = encodeKey(body.identity)
  const writer = encodeKey(body.writer)
  const adding = body.action === 'add-indexer'
  if (adding && current.has(identity)) reject('bad-state', `${identity} is already an indexer`)
  if (!adding) {
    const known = current.get(identity)
    if (known === undefined) reject('not-found', `${identity} is not an indexer`)
    if (known.byteLength === 32 && !b4a.equals(known, body.writer))
      reject('invalid', `${identity} indexes with writer ${encodeKey(known)}, not ${writer}`)
    if (current.size === 1)
      reject('invalid', 'the last indexer cannot be removed: the market would stop')
  }
  const change = `${body.action}:${identity}:${writer}`
  ctx.tx.put(K.vote(change, ctx.author), K.MARK)
  const voters: string[] = []
  for await (const { key } of ctx.tx.range(K.prefixRange(`gov/vote/${change}/`)))
    voters.push(K.tail(key))
  const votes = voters.filter((v) => current.has(v)).length
  if (votes * 2 <= current.size) return
  for (const v of voters) ctx.tx.del(K.vote(change, v))
  if (adding) {
    ctx.tx.put(K.indexer(identity), b4a.from(body.writer))
    ctx.effects = { addIndexer: b4a.from(body.writer) }
  } else {
    ctx.tx.del(K.indexer(identity))
    ctx.effects = { removeIndexer: b4a.from(body.writer) }
  }
}

/** Templates are versioned by name; a name belongs to its first publisher and versions only grow. */
export async function handleTemplate(ctx: Ctx, body: TemplateBody): Promise<void> {
  const owner = await ctx.tx.get(K.templateOwner(body.name))
  if (owner !== null && owner.toString() !== ctx.author)
    reject('not-owner', `template "${body.name}" belongs to ${owner.toString()}`)
  if (owner === null) ctx.tx.put(K.templateOwner(body.name), b4a.from(ctx.author))
  for await (const { key } of ctx.tx.range({
    ...K.prefixRange(`template/${body.name}/`),
    reverse: true,
    limit: 1
  })) {
    const latest = Number(K.tail(key))
    if (body.version <= latest)
      reject('invalid', `template "${body.name}" is at version ${latest}: publish a higher version`)
  }
  ctx.tx.write(templateRecord, K.template(body.name, body.version), {
    ...body,
    author: ctx.author,
    id: ctx.id,
    time: ctx.now
  })
}
