/** The explorer's help texts; keep them and market/EXPLORER.md in step with the rows in model.ts and contract.ts. */
export const EXAMPLES: Record<string, string> = {
  nodes:
    'Examples:\n  scit market nodes --online\n  scit market nodes --country CH --min-cpu 2 --min-memory 4GiB --attr ssd --max-price 50',
  offers:
    'Examples:\n  scit market offers --country CH --attr ssd\n  scit market offers --min-ssd 1TiB --max-price 20 --all',
  bids: 'Examples:\n  scit market bids --state open\n  scit market bids --bot k3x9 --json',
  trades:
    'Examples:\n  scit market trades --state settled --node k3x9\n  scit market trades --bid <bid id> --json',
  contracts:
    'Examples:\n  scit market contracts --state live\n  scit market contracts --bot k3x9 --json',
  templates:
    'Examples:\n  scit market templates\n  scit market templates --bot <publisher key> --json',
  balances: 'Examples:\n  scit market balances\n  scit market balances --bot <key> --json',
  stats: 'Examples:\n  scit market stats\n  scit market stats --json | jq .medianPrice',
  contract:
    'Examples:\n  scit market contract k3x9pq           (the first characters `scit market contracts` shows)\n  scit market contract <core key> --lines 50 --json',
  watch:
    'Examples:\n  scit market watch                     (stats, nodes, offers, trades, contracts)\n  scit market watch trades --state settled --interval 2s\n  scit market watch nodes --json | jq .    (one JSON document per refresh)'
}

export const JSON_FIELDS: Record<string, string> = {
  nodes:
    'an array of {node, country, city, total, free, prices, price, attributes, leases, offer, online, connected, presence, lastSeen, presenceError}',
  offers:
    'an array of offers as the ledger holds them: {node, id, resources, available, prices, country, city, attributes, minLease, maxLease, time, renewed, withdrawn}',
  bids: 'an array of bids as the ledger holds them: {id, bot, resources, replicas, countries, attributes, spread, maxPrice, duration, expiry, exclude, time, state, trades}',
  trades:
    'an array of trades as the ledger holds them: {id, bid, replica, bot, node, resources, price, duration, matchedAt, settleBy, state, contract, manifest, start, end, escrow, paid, refunded}',
  contracts:
    'an array of {contract, bot, manifest, state, trades, nodes, replicas, pricePerHour, escrow, paid, refunded, start, end}',
  templates: 'an array of {name, version, author, id, time, size}',
  balances: 'an array of {key, balance, escrow}',
  stats:
    '{time, nodes {offers, withdrawn, leasing}, capacity {total, sold, free}, trades {<state>: n}, volume {trades, value, paid, escrow, refunded}, medianPrice, bids {open}, money {minted, balances, escrow}, ops {accepted, rejected}}',
  contract:
    '{contract, bot, ledger, verified, error, manifest, approvals, instructions, replicas: [{trade, workload, node, lease, presence, status, state, statusError, logs}]}',
  watch:
    "one JSON document per refresh, on one line: {time, view, rows} (rows: what the view's own --json prints; for the summary, an object of them by view name)"
}

export const UNITS =
  "Units in JSON: cpu in millicores, memory/ssd/hdd in bytes, prices per resource-hour in the market's smallest unit (cpu per core, sizes per GiB), times in ms since the epoch, keys in z-base-32."
