'use strict'
// Instant-payment limits: decides per customer whether the feature is on
// (a stable hash of the customer id against the rollout percentage) and
// what the daily limit is.
//   GET /version                → { release }
//   GET /limit?customer=ID      → { customer, enabled, limit, used }
//   POST /pay?customer=ID&amount=N → { customer, used } (402 past the day's limit)
// What each customer paid today is kept in usage.json (the template's state).
const http = require('http')
const fs = require('fs')
const crypto = require('crypto')

const PORT = Number(process.env.PORT || 9090)
const RELEASE = process.env.RELEASE || '0.0.0'
const ROLLOUT = Number(process.env.ROLLOUT_PERCENT || 0)
const LIMIT = Number(process.env.DAILY_LIMIT || 0)
const USAGE = 'usage.json'

let usage = { day: today(), paid: {} }
try {
  usage = JSON.parse(fs.readFileSync(USAGE, 'utf8'))
} catch {}

function today() {
  return new Date().toISOString().slice(0, 10)
}

function used(customer) {
  if (usage.day !== today()) usage = { day: today(), paid: {} }
  return usage.paid[customer] || 0
}

function save() {
  // write then rename: a snapshot never sees half a file
  fs.writeFileSync(USAGE + '.tmp', JSON.stringify(usage))
  fs.renameSync(USAGE + '.tmp', USAGE)
}

function bucket(customer) {
  // stable across restarts and replicas: the same customer always lands in the same bucket
  return crypto.createHash('sha256').update(customer).digest().readUInt16BE(0) % 100
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x')
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body) + '\n')
  }
  if (url.pathname === '/version') return send(200, { release: RELEASE, rollout: ROLLOUT })
  if (url.pathname === '/limit' || url.pathname === '/pay') {
    const customer = url.searchParams.get('customer')
    if (!customer) return send(400, { error: 'customer is required' })
    const enabled = bucket(customer) < ROLLOUT
    if (req.method === 'POST' && url.pathname === '/pay') {
      const amount = Number(url.searchParams.get('amount'))
      if (!enabled || !(amount > 0))
        return send(400, { error: 'the feature is off for this customer, or no amount' })
      if (used(customer) + amount > LIMIT)
        return send(402, {
          error: 'over the daily instant-payment limit',
          used: used(customer),
          limit: LIMIT
        })
      usage.paid[customer] = used(customer) + amount
      save()
      return send(200, { customer, used: usage.paid[customer] })
    }
    return send(200, { customer, enabled, limit: enabled ? LIMIT : null, used: used(customer) })
  }
  send(404, { error: 'not found' })
})

server.listen(PORT, '127.0.0.1', () =>
  console.log(`limits ${RELEASE} on ${PORT}, rollout ${ROLLOUT}%`)
)
process.on('SIGTERM', () => server.close(() => process.exit(0)))
