/**
 * Whether the bot reaches a node (bot/bot.ts `reaches`, asked before each settle): a ping lost with its connection is
 * asked again over the swarm's next one (the soak, seed 2700 on a44180e: an archive's heal gave up on a node
 * restarted 8 s before, 3.5 s into its 10 s, when the connection the restart left behind closed under its ping).
 */
import test from 'brittle'
import b4a from 'b4a'
import { bot, node, world } from './helpers/deploy'
import { testnet } from './helpers/net'

test('a ping lost with its connection is sent again over the next one: the node is reached', async (t) => {
  const w = await world(t, await testnet(t))
  const n = await node(t, w)
  const b = await bot(t, w)
  t.ok(await b.reaches(n.key, 10_000), 'reached')

  const conns = [...b.swarm.connections].filter((c) =>
    b4a.equals(c.remotePublicKey, n.identity.publicKey)
  )
  t.ok(conns.length > 0, 'over a connection')
  const asked = b.reaches(n.key, 10_000) // takes the connection there is, and pings over it
  for (const c of conns) c.destroy() // which closes under the ping
  t.ok(await asked, 'reached again over a new connection')
})
